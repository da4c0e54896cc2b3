/**
 * One timed run of each variant. The shell-side variants run pg_dump directly (the password through a
 * 0600 PGPASSFILE, as the engine does); the engine variants run bench/engine-run.ts in a fresh Node
 * process so each measures its own peak RSS from a clean start. That process runs JavaScript compiled
 * by `buildEngineRun()`, as the Procfile's worker runs `npm run build`'s output: Node's type stripping
 * alone would add ~29 MB to the RSS measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionParams, PgBinaries } from '../src/engine/index.ts';
import { setTimeout } from 'node:timers/promises';
import { cpuTimes } from './cpu.ts';
import type { EngineRunResult } from './engine-run.ts';
import type { Variant } from './options.ts';

export interface Sample {
  seconds: number;
  /** Archive size as stored. */
  bytes: number;
  /** Peak RSS in KiB of the process the variant is about: the engine worker, or pg_dump for plain/Z1. */
  peakRssKiB?: number;
  engine?: EngineRunResult;
  /** Wall time of the whole engine child, Node start-up and module loading included. */
  processSeconds?: number;
  /** CPU seconds spent on this run, by process (see cpu.ts). */
  cpu?: CpuSplit;
}

export interface CpuSplit {
  /** The engine's Node process, during the timed run (engine rows only). */
  worker?: number;
  /** pg_dump and pg_restore (engine rows), or pg_dump and the shell's zstd (reference rows). */
  tools: number;
  /** The PostgreSQL server backends that served the run. */
  server?: number;
  /** The S3-protocol server. */
  s3?: number;
}

export interface RunContext {
  sourceUrl: string;
  connection: ConnectionParams;
  binaries: PgBinaries;
  /** A 0600 pgpass file for the source. */
  passwordFile: string;
  /** Scratch folder for local archives. */
  outDir: string;
  fileStoreUrl: string;
  /** Split size of the sharded variants. */
  splitSize: number;
  s3?: { url: string; env: Record<string, string>; pid: number };
  /** The source cluster's postmaster, whose children's CPU is its backends'. */
  postmasterPid?: number;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ENGINE_RUN = path.join(BENCH_DIR, '..', '.bench-build', 'bench', 'engine-run.js');

/** Compiles bench/engine-run.ts and the engine it imports into .bench-build/ (tsc, a few seconds). */
export async function buildEngineRun(): Promise<void> {
  const tsc = path.join(BENCH_DIR, '..', 'node_modules', 'typescript', 'bin', 'tsc');
  await rm(path.join(BENCH_DIR, '..', '.bench-build'), { recursive: true, force: true });
  const child = spawn(process.execPath, [tsc, '-p', path.join(BENCH_DIR, 'tsconfig.engine.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  await expectSuccess(child, `compiling the engine (${output.trim().split('\n').slice(0, 5).join(' ')})`);
}
const RESULT_PREFIX = 'BENCH_RESULT ';

export async function runVariant(variant: Variant, context: RunContext, tag: string): Promise<Sample> {
  const before = snapshot(context);
  const sample = await runOnce(variant, context, tag);
  // A backend ends just after its client; give the postmaster a moment to reap it.
  await setTimeout(300);
  const after = snapshot(context);
  const delta = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : Math.max(0, b - a);
  const server = delta(before.server, after.server);
  const s3 = delta(before.s3, after.s3);
  sample.cpu = {
    ...(sample.engine
      ? { worker: sample.engine.cpuSeconds, tools: sample.engine.toolsCpuSeconds }
      : { tools: delta(before.children, after.children) ?? 0 }),
    ...(server === undefined ? {} : { server }),
    ...(s3 === undefined ? {} : { s3 }),
  };
  return sample;
}

function snapshot(context: RunContext): { children?: number; server?: number; s3?: number } {
  const server = context.postmasterPid === undefined ? undefined : cpuTimes(context.postmasterPid)?.children;
  const s3 = context.s3 === undefined ? undefined : cpuTimes(context.s3.pid)?.self;
  const children = cpuTimes()?.children;
  return {
    ...(children === undefined ? {} : { children }),
    ...(server === undefined ? {} : { server }),
    ...(s3 === undefined ? {} : { s3 }),
  };
}

async function runOnce(variant: Variant, context: RunContext, tag: string): Promise<Sample> {
  switch (variant) {
    case 'plain':
      return runPgDump(context, ['-Fc'], tag);
    case 'shell-z1':
      return runPgDump(context, ['-Fc', '-Z1'], tag);
    case 'shell-zstd':
      return runZstdPipe(context, tag);
    case 'ceiling':
      return runCeiling(context);
    case 'default-s3':
      return runEngine(context, 'default', 's3', tag);
    case 'default-file':
      return runEngine(context, 'default', 'file', tag);
    case 'fast-s3':
      return runEngine(context, 'fast', 's3', tag);
    case 'fast-file':
      return runEngine(context, 'fast', 'file', tag);
    case 'sharded1-s3':
    case 'sharded2-s3':
    case 'sharded4-s3':
    case 'sharded1-file':
    case 'sharded2-file':
    case 'sharded4-file': {
      const [, pieces, store] = /^sharded(\d)-(s3|file)$/.exec(variant)!;
      return runEngine(context, 'default', store as 's3' | 'file', tag, Number(pieces));
    }
  }
}

function connectionArgs(c: ConnectionParams): string[] {
  return [`--host=${c.host}`, `--port=${c.port}`, `--username=${c.user}`, `--dbname=${c.database}`, '-w'];
}

function pgEnv(context: RunContext): Record<string, string> {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: context.passwordFile };
}

/** `pg_dump <flags> -f file`: plain pg_dump as an operator would run it (it fsyncs its output by default). */
async function runPgDump(context: RunContext, flags: string[], tag: string): Promise<Sample> {
  const file = path.join(context.outDir, `${tag}.dump`);
  const started = performance.now();
  const child = spawn(context.binaries.pgDump, [...flags, `--file=${file}`, ...connectionArgs(context.connection)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: pgEnv(context),
  });
  const peak = sampleHighWaterMark(child);
  await expectSuccess(child, 'pg_dump');
  const seconds = (performance.now() - started) / 1000;
  const bytes = (await stat(file)).size;
  await rm(file, { force: true });
  return { seconds, bytes, peakRssKiB: peak.stop() };
}

/** `pg_dump -Fc -Z0 | zstd -1 > file`: the shell pipe performance.md measured at 2.60×. */
async function runZstdPipe(context: RunContext, tag: string): Promise<Sample> {
  const file = path.join(context.outDir, `${tag}.dump.zst`);
  const started = performance.now();
  const child = spawn(
    'bash',
    [
      '-c',
      'set -o pipefail; "$1" "${@:3}" | zstd -1 -q -c > "$2"',
      'bash',
      context.binaries.pgDump,
      file,
      '-Fc',
      '-Z0',
      ...connectionArgs(context.connection),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: pgEnv(context) },
  );
  await expectSuccess(child, 'pg_dump | zstd');
  const seconds = (performance.now() - started) / 1000;
  const bytes = (await stat(file)).size;
  await rm(file, { force: true });
  return { seconds, bytes };
}

/** `pg_dump -Fc -Z0 > /dev/null`: the single-stream ceiling of performance.md B2 (no archive kept). */
async function runCeiling(context: RunContext): Promise<Sample> {
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = performance.now();
    const child = spawn(context.binaries.pgDump, ['-Fc', '-Z0', ...connectionArgs(context.connection)], {
      stdio: ['ignore', devNull, 'pipe'],
      env: pgEnv(context),
    });
    const peak = sampleHighWaterMark(child);
    await expectSuccess(child, 'pg_dump -Z0');
    return { seconds: (performance.now() - started) / 1000, bytes: 0, peakRssKiB: peak.stop() };
  } finally {
    closeSync(devNull);
  }
}

async function runEngine(
  context: RunContext,
  format: 'default' | 'fast',
  store: 's3' | 'file',
  tag: string,
  sharded?: number,
): Promise<Sample> {
  if (store === 's3' && !context.s3) throw new Error('the S3 server is not running');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    BENCH_SOURCE_URL: context.sourceUrl,
    BENCH_STORE_URL: store === 's3' ? context.s3!.url : context.fileStoreUrl,
    BENCH_STORE_ENV: JSON.stringify(store === 's3' ? context.s3!.env : {}),
    BENCH_FORMAT: format,
    BENCH_KEY: `bench/${tag}`,
    ...(sharded === undefined ? {} : { BENCH_SHARDED: String(sharded), BENCH_SPLIT_SIZE: String(context.splitSize) }),
  };
  const started = performance.now();
  // --expose-gc as the Procfile's worker runs, for the garbage pacer (src/engine/garbage-pacer.ts).
  const child = spawn(process.execPath, ['--expose-gc', ENGINE_RUN], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  await expectSuccess(child, `the engine (${format} → ${store})`);
  const processSeconds = (performance.now() - started) / 1000;
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined)
    throw new Error(`the engine run (${format} → ${store}) printed no result:\n${stdout.slice(-2000)}`);
  const engine = JSON.parse(line.slice(RESULT_PREFIX.length)) as EngineRunResult;
  return { seconds: engine.seconds, bytes: engine.bytes, peakRssKiB: engine.peakRssKiB, engine, processSeconds };
}

/** Waits for the child and throws with the tail of its stderr if it did not exit 0. */
async function expectSuccess(child: ChildProcess, what: string): Promise<void> {
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.shift();
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0)
    throw new Error(
      `${what} failed (${signal ?? `exit ${code}`}): ${stderr.join('').trim().split('\n').slice(-15).join('\n')}`,
    );
}

/** Polls /proc/<pid>/status for VmHWM (the kernel's peak-RSS mark) until stopped; the last reading is the peak. */
function sampleHighWaterMark(child: ChildProcess): { stop(): number | undefined } {
  let peak: number | undefined;
  const read = () => {
    try {
      const kib = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
      if (kib > 0) peak = Math.max(peak ?? 0, kib);
    } catch {
      // Not started yet or already gone.
    }
  };
  const timer = setInterval(read, 25);
  child.once('exit', () => clearInterval(timer));
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}
