/**
 * One run of the engine's full path (plan → pg_dump read through → storage → read-back verification), in a process of
 * its own so that its peak RSS is the worker's alone and starts clean for every run. Started by
 * bench/runners.ts; reads its inputs from the environment (the source URL holds a password, so it is
 * never in argv) and prints one `BENCH_RESULT {json}` line. pg_dump and pg_restore are child processes
 * of this one; getrusage(RUSAGE_SELF) does not count them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { captureArchive, captureSharded, directSource, type DumpFormat } from '../src/engine/index.ts';
import { openObjectStore } from '../src/storage/open-object-store.ts';
import { cpuTimes } from './cpu.ts';

export interface EngineRunResult {
  seconds: number;
  /** Planning: resolving the source, probing the server, choosing pg_dump. */
  planSeconds: number;
  /** Until storage proved every byte (pg_dump exited 0, upload sealed). */
  storedSeconds: number;
  /** Reading the object back: digest, `pg_restore --list`, and for a zstd wrapper the decompressed bytes' digest. */
  verifySeconds: number;
  bytes: number;
  rawBytes: number;
  tableCount: number;
  archiveBytesUpperBound: number;
  pgDumpCompression: string;
  wrapper: string;
  pgDumpVersion: string;
  /** getrusage maxRSS, KiB. */
  peakRssKiB: number;
  /** /proc/self/status VmHWM, KiB (the same high-water mark, read another way). */
  vmHwmKiB: number;
  /** RSS after loading the engine, before the run, KiB. */
  startRssKiB: number;
  /** Peak RSS up to the moment storage proved every byte, before verification, KiB. */
  storedPeakRssKiB: number;
  cpuSeconds: number;
  /** CPU of the pg_dump and pg_restore processes this run spawned (all ended by now). */
  toolsCpuSeconds: number;
  /** The worker's CPU until every byte was stored (the rest is verification). */
  storedCpuSeconds: number;
  /** Highest values seen by sampling process.memoryUsage() every 50 ms, bytes: what the RSS is made of. */
  sampled: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
}

/** Keep in step with runners.ts, which reads this line. */
const RESULT_PREFIX = 'BENCH_RESULT ';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const sourceUrl = required('BENCH_SOURCE_URL');
  const storeUrl = required('BENCH_STORE_URL');
  const storeEnv = JSON.parse(process.env.BENCH_STORE_ENV ?? '{}') as Record<string, string>;
  const format = required('BENCH_FORMAT') as DumpFormat;
  const key = required('BENCH_KEY');
  const store = await openObjectStore(storeUrl, storeEnv);
  try {
    const startRssKiB = Math.round(process.memoryUsage().rss / 1024);
    const cpuBefore = process.cpuUsage();
    const childrenBefore = cpuTimes()?.children ?? 0;
    let storedCpu = cpuBefore;
    const sampled = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
    const sample = () => {
      const m = process.memoryUsage();
      sampled.rss = Math.max(sampled.rss, m.rss);
      sampled.heapUsed = Math.max(sampled.heapUsed, m.heapUsed);
      sampled.external = Math.max(sampled.external, m.external);
      sampled.arrayBuffers = Math.max(sampled.arrayBuffers, m.arrayBuffers);
    };
    const sampler = setInterval(sample, 50);
    const started = performance.now();
    let plannedAt = started;
    let storedAt = started;
    let storedPeakRssKiB = 0;
    const onStored = () => {
      storedAt = performance.now();
      storedCpu = process.cpuUsage(cpuBefore);
      storedPeakRssKiB = process.resourceUsage().maxRSS;
    };
    const sharded = process.env.BENCH_SHARDED ? Number(process.env.BENCH_SHARDED) : undefined;
    let piecesLeft = Infinity;
    // Sharded: "stored" is when the last piece was proven; assembly and its verifying read are the rest.
    const captured =
      sharded === undefined
        ? await captureArchive({
            source: directSource(sourceUrl),
            // The benchmark's source runs on this machine.
            hosts: { allowPrivate: true },
            store,
            format,
            key: (plan) => `${key}${plan.format.fileExtension}`,
            onPlan: async () => {
              plannedAt = performance.now();
            },
            onStored: async () => onStored(),
          })
        : await captureSharded({
            source: directSource(sourceUrl),
            hosts: { allowPrivate: true },
            store,
            format,
            concurrency: sharded,
            splitSizeBytes: Number(required('BENCH_SPLIT_SIZE')),
            static: true,
            key: (plan) => `${key}${plan.format.fileExtension}`,
            onPlan: async (plan) => {
              plannedAt = performance.now();
              piecesLeft = plan.pieces.length;
              if (plan.mode !== 'sharded') throw new Error(`the plan is not sharded: ${plan.modeReason}`);
            },
            onPieceDone: () => {
              piecesLeft -= 1;
              if (piecesLeft === 0) onStored();
            },
          });
    const finished = performance.now();
    clearInterval(sampler);
    sample();
    const cpu = process.cpuUsage(cpuBefore);
    const peakRssKiB = process.resourceUsage().maxRSS;
    const vmHwmKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
    const result: EngineRunResult = {
      seconds: (finished - started) / 1000,
      planSeconds: (plannedAt - started) / 1000,
      storedSeconds: (storedAt - started) / 1000,
      verifySeconds: (finished - storedAt) / 1000,
      bytes: captured.stored.bytes,
      rawBytes: captured.dump?.rawBytes ?? 0,
      tableCount: captured.verified.tableCount,
      archiveBytesUpperBound: captured.plan.archiveBytesUpperBound,
      pgDumpCompression: captured.plan.format.pgDumpCompression,
      wrapper: captured.plan.format.wrapper,
      pgDumpVersion: captured.plan.binaries.version,
      peakRssKiB,
      vmHwmKiB,
      startRssKiB,
      storedPeakRssKiB,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      toolsCpuSeconds: (cpuTimes()?.children ?? childrenBefore) - childrenBefore,
      storedCpuSeconds: (storedCpu.user + storedCpu.system) / 1e6,
      sampled,
    };
    // Free the disk for the next run; measured already, so it does not count.
    await store.delete(captured.key);
    process.stdout.write(RESULT_PREFIX + JSON.stringify(result) + '\n');
  } finally {
    await store.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `engine run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
