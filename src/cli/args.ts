import { parseArgs } from 'node:util';
import { redact } from '../shared/redact.ts';
import type { DumpFormat } from '../engine/index.ts';

/** A command line that can never work; exits 2 with the message and the command's help hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose `--help` to point at, or null for the top level. */
  readonly command: 'capture' | 'verify' | null;

  constructor(message: string, command: 'capture' | 'verify' | null = null) {
    super(message);
    this.command = command;
  }
}

/** Where the database URL comes from: an environment variable (kept out of argv) or argv itself. */
export type SourceArg = { kind: 'env'; name: string } | { kind: 'url'; url: string };

/** Options shared by both commands. */
export interface OutputArgs {
  json: boolean;
  quiet: boolean;
}

/** `big-backup capture`'s options, checked. */
export interface CaptureArgs extends OutputArgs {
  source: SourceArg;
  to: string;
  format: DumpFormat;
  key: string | null;
  stallTimeoutSeconds: number;
  verbose: boolean;
  /** Pieces dumped at once; above 1 the capture is sharded (the source is then declared static). */
  parallel: number;
  /** Tables larger than this are cut into ctid ranges (sharded capture only). */
  splitSizeBytes: number;
  /** Carry on from the pieces stored under `--key` (sharded capture only). */
  resume: boolean;
}

/** `big-backup verify`'s options, checked. */
export interface VerifyArgs extends OutputArgs {
  from: string;
  key: string;
}

/** What the command line asks for. */
export type Invocation =
  | { command: 'help'; text: 'main' | 'capture' | 'verify' }
  | { command: 'capture'; args: CaptureArgs }
  | { command: 'verify'; args: VerifyArgs };

const OUTPUT_OPTIONS = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

const CAPTURE_OPTIONS = {
  ...OUTPUT_OPTIONS,
  source: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string' },
  key: { type: 'string' },
  'stall-timeout': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  parallel: { type: 'string' },
  'split-size': { type: 'string' },
  resume: { type: 'boolean' },
} as const;

const VERIFY_OPTIONS = { ...OUTPUT_OPTIONS, from: { type: 'string' }, key: { type: 'string' } } as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_STALL_SECONDS = 300;
const MAX_PARALLEL = 64;
/** The default split size: 1 GiB. */
export const DEFAULT_SPLIT_BYTES = 1024 ** 3;
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses `argv` (without node and the script); throws UsageError for anything it cannot run. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic === 'capture' || topic === 'verify') return { command: 'help', text: topic };
    if (topic !== undefined) throw new UsageError(`unknown command ${shown(topic)}`);
    return { command: 'help', text: 'main' };
  }
  if (first === 'capture') return parseCapture(rest);
  if (first === 'verify') return parseVerify(rest);
  throw new UsageError(
    first.startsWith('-') ? `expected a command before ${shown(first)}` : `unknown command ${shown(first)}`,
  );
}

function parseCapture(argv: readonly string[]): Invocation {
  const { values } = readArgs(
    () => parseArgs({ args: [...argv], options: CAPTURE_OPTIONS, strict: true, allowPositionals: true }),
    'capture',
  );
  if (values.help) return { command: 'help', text: 'capture' };
  const fail = (message: string) => new UsageError(message, 'capture');
  if (values.source === undefined)
    throw fail('--source is required (a postgres:// URL, or env:NAME to read it from an environment variable)');
  if (values.to === undefined) throw fail('--to is required (s3://bucket/prefix or file:///path)');
  const format = values.format ?? 'default';
  if (format !== 'default' && format !== 'fast') throw fail(`--format must be default or fast, not ${shown(format)}`);
  const stall = values['stall-timeout'] ?? String(DEFAULT_STALL_SECONDS);
  if (!/^\d+$/.test(stall) || Number(stall) < 5 || Number(stall) > 86_399)
    throw fail('--stall-timeout must be a whole number of seconds from 5 to 86399');
  if (values.quiet && values.verbose) throw fail('--quiet and --verbose cannot be used together');
  const parallel = values.parallel ?? '1';
  if (!/^\d+$/.test(parallel) || Number(parallel) < 1 || Number(parallel) > MAX_PARALLEL)
    throw fail(`--parallel must be a whole number from 1 to ${MAX_PARALLEL}`);
  const sharded = Number(parallel) > 1;
  if (values['split-size'] !== undefined && !sharded) throw fail('--split-size needs --parallel 2 or more');
  const splitSizeBytes = values['split-size'] === undefined ? DEFAULT_SPLIT_BYTES : parseSize(values['split-size']);
  if (splitSizeBytes === null || splitSizeBytes < 1024 * 1024)
    throw fail('--split-size must be a size of at least 1MB, such as 512MB or 1GB');
  if (values.resume && !sharded) throw fail('--resume needs --parallel 2 or more');
  if (values.resume && values.key === undefined) throw fail('--resume needs --key, the key of the capture to carry on');
  return {
    command: 'capture',
    args: {
      source: parseSource(values.source),
      to: values.to,
      format,
      key: values.key ?? null,
      stallTimeoutSeconds: Number(stall),
      json: values.json ?? false,
      quiet: values.quiet ?? false,
      verbose: values.verbose ?? false,
      parallel: Number(parallel),
      splitSizeBytes,
      resume: values.resume ?? false,
    },
  };
}

/** `8MB`, `512MiB`, `1GB`, `1g`, `1048576`: binary units (1MB = 1 MiB); null when it is not a size. */
export function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) return null;
  const bytes = Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

function parseVerify(argv: readonly string[]): Invocation {
  const { values } = readArgs(
    () => parseArgs({ args: [...argv], options: VERIFY_OPTIONS, strict: true, allowPositionals: true }),
    'verify',
  );
  if (values.help) return { command: 'help', text: 'verify' };
  if (values.from === undefined)
    throw new UsageError('--from is required (the storage URL the archive was captured to)', 'verify');
  if (values.key === undefined)
    throw new UsageError('--key is required (the key "big-backup capture" printed)', 'verify');
  return {
    command: 'verify',
    args: { from: values.from, key: values.key, json: values.json ?? false, quiet: values.quiet ?? false },
  };
}

function parseSource(value: string): SourceArg {
  if (!value.startsWith('env:')) return { kind: 'url', url: value };
  const name = value.slice('env:'.length);
  if (!ENV_NAME.test(name))
    throw new UsageError(`--source env:NAME needs an environment variable name, not ${shown(name)}`, 'capture');
  return { kind: 'env', name };
}

/** Runs util.parseArgs with our own messages: its own quote the offending argument, which may hold a password. */
function readArgs<R extends { positionals: string[] }>(run: () => R, command: 'capture' | 'verify'): R {
  let parsed: R;
  try {
    parsed = run();
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    const option = /'(-[^' ]+)/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw new UsageError(`unknown option ${option ? shown(option) : ''}`.trim(), command);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(
        option
          ? `${option} ${/does not take/.test(message) ? 'takes no value' : 'needs a value'}`
          : 'an option has a wrong value',
        command,
      );
    }
    throw new UsageError('the options could not be read', command);
  }
  const [extra] = parsed.positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument ${shown(extra)}`, command);
  return parsed;
}

/** Quotes a piece of the command line for a message, with any URL password removed. */
function shown(text: string): string {
  const short = text.length > 80 ? text.slice(0, 80) + '…' : text;
  return JSON.stringify(redact(short));
}
