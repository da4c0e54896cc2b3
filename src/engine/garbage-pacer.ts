import v8 from 'node:v8';

const MiB = 1024 * 1024;

/** V8's collector, as `--expose-gc` exposes it. */
export type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

export interface GarbagePacerOptions {
  /** How far external memory may grow past where the last collection left it; default 16 MiB. */
  slackBytes?: number;
  /** How many stream bytes pass between looks at external memory; default 1 MiB. */
  checkEveryBytes?: number;
}

/**
 * Keeps a streaming pipeline's dead buffers from piling up, in a process started with `--expose-gc`
 * (the Procfile's worker is). Buffers live outside the JS heap, and V8 collects them only once external
 * memory grew about 64 MiB past its last collection; a backup allocates a new buffer at every stage
 * (pipe reads, coalesced chunks, zstd output, the decoded check, socket reads while verifying), so up
 * to 64 MiB of garbage sat on top of the part buffers, which is what put the worker over its
 * 80 MB + part size × (queue size + 2) budget. Call the returned function with each chunk's size:
 * every `checkEveryBytes` it reads external memory, and once that is `slackBytes` above where the last
 * collection left it, runs a young-generation collection (about a millisecond), which frees the
 * short-lived buffers. Without a collector (no `--expose-gc`) it does nothing.
 */
export function createGarbagePacer(
  options: GarbagePacerOptions = {},
  gc: GcFunction | null = exposedGc(),
): (bytes: number) => void {
  if (gc === null) return () => {};
  const slack = options.slackBytes ?? 16 * MiB;
  const every = options.checkEveryBytes ?? MiB;
  let sinceCheck = 0;
  let floor = externalMemory();
  return (bytes) => {
    sinceCheck += bytes;
    if (sinceCheck < every) return;
    sinceCheck = 0;
    const now = externalMemory();
    if (now < floor) floor = now;
    if (now - floor < slack) return;
    gc({ type: 'minor' });
    floor = externalMemory();
  };
}

function exposedGc(): GcFunction | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : null;
}

function externalMemory(): number {
  return v8.getHeapStatistics().external_memory;
}
