/**
 * Options of `npm run bench`, from flags (`npm run bench -- --size 2GB`) or the environment
 * (`BENCH_SIZE=2GB npm run bench`); flags win.
 */

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

/** The engine's own runs (captureArchive / captureSharded in a worker-like process), per format and store. */
export const ENGINE_VARIANTS = [
  'default-s3',
  'default-file',
  'fast-s3',
  'fast-file',
  'sharded1-s3',
  'sharded2-s3',
  'sharded4-s3',
  'sharded1-file',
  'sharded2-file',
  'sharded4-file',
] as const;
/** Every variant the benchmark knows; `plain` (the baseline) always runs. */
export const VARIANTS = ['plain', ...ENGINE_VARIANTS, 'shell-z1', 'shell-zstd', 'ceiling'] as const;
export type Variant = (typeof VARIANTS)[number];
/** Whether the variant is one of the engine's runs (not the baseline or a shell reference). */
export function isEngineVariant(variant: Variant): boolean {
  return (ENGINE_VARIANTS as readonly Variant[]).includes(variant);
}
/** The engine's paths, plus the two shell equivalents performance.md measured, as references. */
const DEFAULT_TARGETS: Variant[] = VARIANTS.filter((v) => v !== 'ceiling');

/** What each variant is, for the report. */
export const DESCRIPTIONS: Record<Variant, string> = {
  'plain': 'pg_dump -Fc -f file (baseline)',
  'default-s3': 'engine, default → S3, verified',
  'default-file': 'engine, default → disk, verified',
  'fast-s3': 'engine, fast → S3, verified',
  'fast-file': 'engine, fast → disk, verified',
  'sharded1-s3': 'sharded, default, 1 piece at a time → S3, verified',
  'sharded2-s3': 'sharded, default, 2 pieces at a time → S3, verified',
  'sharded4-s3': 'sharded, default, 4 pieces at a time → S3, verified',
  'sharded1-file': 'sharded, default, 1 piece at a time → disk, verified',
  'sharded2-file': 'sharded, default, 2 pieces at a time → disk, verified',
  'sharded4-file': 'sharded, default, 4 pieces at a time → disk, verified',
  'shell-z1': 'ref: pg_dump -Fc -Z1 -f file',
  'shell-zstd': 'ref: pg_dump -Fc -Z0 | zstd -1 > file',
  'ceiling': 'ref: pg_dump -Fc -Z0 > /dev/null',
};

export interface BenchOptions {
  /** Target `pg_database_size` of each synthetic database, in bytes; one table per size. */
  sizes: number[];
  rounds: number;
  variants: Variant[];
  /** Keep the source cluster here and reuse databases already built; default a temporary folder removed at the end. */
  dataDir?: string;
  /** Split size of the sharded variants' tables (ctid ranges). */
  splitSize: number;
  /** `part_size` / `queue_size` options of the S3 storage URL; absent means the engine's defaults. */
  partSize?: string;
  queueSize?: number;
  help: boolean;
}

export const USAGE = `npm run bench -- [options]

Builds a synthetic database, then times plain \`pg_dump -Fc\` to a local file against the engine's
full path (dump → storage → verified) per format and store, in interleaved rounds.

  --size 500MB          target database size (pg_database_size)            env BENCH_SIZE    default 500MB
  --sizes 250MB,1GB     several sizes (memory reported at each)             env BENCH_SIZES
  --rounds 3            rounds; variants are interleaved within a round     env BENCH_ROUNDS  default 3
  --targets LIST        comma list of ${VARIANTS.join(', ')}
                        (plain always runs; shell-z1, shell-zstd and ceiling are shell references)
                                                                            env BENCH_TARGETS default ${DEFAULT_TARGETS.join(',')}
  --data-dir DIR        keep the source cluster in DIR and reuse its databases on later runs
                                                                            env BENCH_DATA_DIR
  --split-size 128MB    split size of the sharded variants (tables cut into ctid ranges of about this)
                                                                            env BENCH_SPLIT_SIZE default 128MB
  --part-size 16MiB     S3 part size floor (storage URL option part_size)   env BENCH_PART_SIZE
  --queue-size 4        S3 parts in flight (storage URL option queue_size)  env BENCH_QUEUE_SIZE
  --help`;

/** `500MB`, `2GB`, `1.5GiB`, `750M`: binary units (MB means MiB, as in performance.md). */
export function parseSize(text: string, minimum = 50 * MiB): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g|t)?i?b?\s*$/i.exec(text);
  if (!match) throw new Error(`cannot read the size "${text}"; write e.g. 500MB or 2GB`);
  const unit = (match[2] ?? 'm').toLowerCase();
  const factor = unit === 'k' ? 1024 : unit === 'm' ? MiB : unit === 'g' ? GiB : 1024 * GiB;
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes < minimum) throw new Error(`the size ${text} is too small; use at least ${Math.round(minimum / MiB)}MB`);
  return bytes;
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions {
  const flags = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument "${arg}"\n\n${USAGE}`);
    const name = match[1]!;
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    flags.set(name, value);
  }
  const known = ['size', 'sizes', 'rounds', 'targets', 'data-dir', 'part-size', 'queue-size', 'split-size'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
  const pick = (flag: string, variable: string): string | undefined => flags.get(flag) ?? (env[variable] || undefined);

  const sizesText = pick('sizes', 'BENCH_SIZES') ?? pick('size', 'BENCH_SIZE') ?? '500MB';
  const sizes = [
    ...new Set(
      sizesText
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(parseSize),
    ),
  ].sort((a, b) => a - b);
  if (sizes.length === 0) throw new Error('no database size given');

  const rounds = Number(pick('rounds', 'BENCH_ROUNDS') ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50)
    throw new Error(`--rounds must be a whole number from 1 to 50, not ${rounds}`);

  const targetsText = pick('targets', 'BENCH_TARGETS');
  let variants: Variant[] = DEFAULT_TARGETS;
  if (targetsText !== undefined) {
    const asked = targetsText
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const name of asked)
      if (!(VARIANTS as readonly string[]).includes(name))
        throw new Error(`unknown target "${name}"; choose from ${VARIANTS.join(', ')}`);
    // Keep a fixed order, and always the baseline the ratios are taken against.
    variants = VARIANTS.filter((v) => v === 'plain' || asked.includes(v));
  }

  const queueText = pick('queue-size', 'BENCH_QUEUE_SIZE');
  const queueSize = queueText === undefined ? undefined : Number(queueText);
  if (queueSize !== undefined && (!Number.isInteger(queueSize) || queueSize < 1 || queueSize > 16))
    throw new Error('--queue-size must be 1 to 16');
  const partSize = pick('part-size', 'BENCH_PART_SIZE');
  const dataDir = pick('data-dir', 'BENCH_DATA_DIR');
  const splitSize = parseSize(pick('split-size', 'BENCH_SPLIT_SIZE') ?? '128MB', MiB);
  return {
    sizes,
    splitSize,
    rounds,
    variants,
    help,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(partSize === undefined ? {} : { partSize }),
    ...(queueSize === undefined ? {} : { queueSize }),
  };
}
