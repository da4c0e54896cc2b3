import { z } from 'zod';

const url = (label: string) =>
  z
    .string({ error: `${label} is required` })
    .trim()
    .pipe(z.url({ error: `${label} must be a URL` }));

const base64Key = z
  .string()
  .trim()
  .refine((value) => Buffer.from(value, 'base64').length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(value), {
    error: 'each key must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)',
  });

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A size in bytes: a number, or a number and a unit (`8MB`, `1GiB`); at least 64 KiB. */
const byteSize = (label: string) =>
  z
    .string()
    .trim()
    .transform((value, context) => {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
      const unit = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
      const bytes = match && unit ? Math.round(Number(match[1]) * unit) : NaN;
      if (!(bytes >= 64 * 1024)) {
        context.addIssue({ code: 'custom', message: `${label} must be a size of at least 64KiB, e.g. 1GiB or 8MB` });
        return z.NEVER;
      }
      return bytes;
    });

/** Every setting the processes read, with its environment name. Parsed once, at boot. */
const schema = z
  .object({
    NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
    PORT: z.coerce.number().int().min(1).max(65535).default(5000),
    DATABASE_URL: url('DATABASE_URL').refine((value) => /^postgres(ql)?:\/\//.test(value), {
      error: 'DATABASE_URL must be a postgres:// URL',
    }),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
    HEROKU_ADDON_ID: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/)
      .default('big-backup'),
    HEROKU_ADDON_PASSWORD: z
      .string({ error: 'HEROKU_ADDON_PASSWORD is required (the manifest api.password)' })
      .min(8, { error: 'HEROKU_ADDON_PASSWORD must be 8 to 72 characters' })
      .max(72, { error: 'HEROKU_ADDON_PASSWORD must be 8 to 72 characters' }),
    HEROKU_SSO_SALT: z
      .string({ error: 'HEROKU_SSO_SALT is required (the manifest api.sso_salt)' })
      .min(16, { error: 'HEROKU_SSO_SALT must be at least 16 characters' }),
    HEROKU_OAUTH_CLIENT_SECRET: z
      .string({ error: 'HEROKU_OAUTH_CLIENT_SECRET is required (from the Partner Portal)' })
      .min(1),
    HEROKU_API_URL: url('HEROKU_API_URL').default('https://api.heroku.com'),
    HEROKU_OAUTH_URL: url('HEROKU_OAUTH_URL').default('https://id.heroku.com'),
    PUBLIC_URL: url('PUBLIC_URL'),
    SESSION_SECRET: z
      .string({ error: 'SESSION_SECRET is required' })
      .min(32, { error: 'SESSION_SECRET must be at least 32 characters' }),
    ENCRYPTION_KEY: z
      .string({ error: 'ENCRYPTION_KEY is required (32 random bytes, base64; older keys may follow after commas)' })
      .transform((value) =>
        value
          .split(',')
          .map((key) => key.trim())
          .filter(Boolean),
      )
      .pipe(z.array(base64Key).min(1)),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // Where archives go: s3://bucket/prefix (with the AWS_* variables) or file:///path (development).
    STORAGE_URL: z
      .string()
      .trim()
      .regex(/^(s3|file):\/\//, { error: 'STORAGE_URL must be s3://bucket/prefix or file:///path' })
      .optional(),
    // A folder with pg_dump/pg_restore to prefer over /usr/lib/postgresql/*/bin and the PATH.
    PG_BIN_DIR: z.string().trim().min(1).optional(),
    // A dump that moves no bytes for this long is stopped as stalled.
    BACKUP_STALL_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(86_399).default(300),
    // Backups one worker process runs at once. 3 fits a Performance-M (2.5 GB): a backup of a database
    // under ~110 GB takes ~300 MB (part buffers, pg_dump, the read-through), and one at the Standard
    // plan's 1 TB (~1 GB of part buffers) still fits beside two such (README, Backup slots).
    BACKUP_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(3),
    // Backups one tenant (a Heroku app; the add-on until its app is known) runs at once across all
    // workers, so a burst of one app's scheduled backups cannot hold every slot.
    BACKUP_TENANT_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(1),
    // A dump whose data moves slower than this, measured over the window once pg_dump copies data, is
    // stopped as too slow (0 turns the floor off); the stall timeout above still covers no bytes at all.
    BACKUP_MIN_THROUGHPUT_BYTES_PER_SECOND: z.coerce
      .number()
      .int()
      .min(0)
      .default(256 * 1024),
    BACKUP_MIN_THROUGHPUT_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86_399).default(600),
    // Bytes of stored archives the rolling re-check reads per hour, at most (issue 15): every archive is
    // read again at least every 30 days, the newest verified one weekly. 0 turns the rolling pass off.
    RECHECK_BYTES_PER_HOUR: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * 1024 ** 3),
    // Restore drills (issue 15): archives up to this size are spooled to local disk so pg_restore -j can
    // seek in them; larger ones are streamed into a single-job pg_restore. The dyno's disk bounds it.
    DRILL_SPOOL_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(50 * 1024 ** 3),
    // Tests only, refused in production: SQL run on a drill's restored database before the comparison.
    DRILL_TEST_ALTER_SQL: z.string().min(1).optional(),
    // Our own Heroku OAuth client for "Connect Heroku" (scope write-protected); without it the dashboard
    // explains that connecting is not configured.
    HEROKU_CONNECT_CLIENT_ID: z.string().trim().min(1).optional(),
    HEROKU_CONNECT_CLIENT_SECRET: z.string().trim().min(1).optional(),
    // How long a fork may take to become ready before the backup fails, and the first poll interval
    // (it backs off to a minute).
    FORK_READY_TIMEOUT_SECONDS: z.coerce
      .number()
      .min(1)
      .max(86_399)
      .default(12 * 3600),
    FORK_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.05).max(300).default(5),
    // Sharded capture (issue 14): tables larger than this are dumped in several pieces (ctid ranges),
    // e.g. `1GiB`, `8MB` or a number of bytes.
    SHARD_SPLIT_SIZE: byteSize('SHARD_SPLIT_SIZE').default(1024 ** 3),
    // Pieces one worker process dumps at once, whatever backups they belong to (each backup's own
    // limit comes from its plan), so one customer's pieces cannot take every slot.
    PIECE_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
    // Lets customers' database URLs (and fork URLs) point at loopback and private addresses: for the
    // embedded default and the tests, whose databases run on this machine. Refused in production.
    ALLOW_PRIVATE_DATABASE_HOSTS: z
      .enum(['true', 'false'], { error: 'ALLOW_PRIVATE_DATABASE_HOSTS must be true or false' })
      .default('false')
      .transform((value) => value === 'true'),
    // Notifications (issue 16). Email goes through this SMTP server (smtp:// or smtps://, credentials in
    // the URL); without it, email is not offered and webhooks and the log stream still work.
    SMTP_URL: z
      .string()
      .trim()
      .regex(/^smtps?:\/\/\S+$/, { error: 'SMTP_URL must be an smtp:// or smtps:// URL' })
      .optional(),
    // The sender of notification emails, e.g. `big-backup <alerts@example.com>`; default no-reply@ the PUBLIC_URL host.
    EMAIL_FROM: z.string().trim().min(3).max(320).optional(),
  })
  .superRefine((config, context) => {
    // Production must say where archives go; silently writing them to a dyno's ephemeral disk loses them.
    if (config.NODE_ENV === 'production' && !config.STORAGE_URL) {
      context.addIssue({
        code: 'custom',
        path: ['STORAGE_URL'],
        message: 'STORAGE_URL is required in production (s3://bucket/prefix)',
      });
    }
    // A customer's URL could then reach our own network: the database, the metadata service's neighbours.
    if (config.NODE_ENV === 'production' && config.ALLOW_PRIVATE_DATABASE_HOSTS) {
      context.addIssue({
        code: 'custom',
        path: ['ALLOW_PRIVATE_DATABASE_HOSTS'],
        message:
          "ALLOW_PRIVATE_DATABASE_HOSTS cannot be true in production: customers' database URLs would reach our own network",
      });
    }
    if (config.NODE_ENV === 'production' && config.DRILL_TEST_ALTER_SQL !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['DRILL_TEST_ALTER_SQL'],
        message: 'DRILL_TEST_ALTER_SQL is a test hook and cannot be set in production',
      });
    }
    // One without the other boots fine and then fails every Heroku-source backup once its first
    // user token needs refreshing, hours later.
    if ((config.HEROKU_CONNECT_CLIENT_ID === undefined) !== (config.HEROKU_CONNECT_CLIENT_SECRET === undefined)) {
      const missing =
        config.HEROKU_CONNECT_CLIENT_ID === undefined ? 'HEROKU_CONNECT_CLIENT_ID' : 'HEROKU_CONNECT_CLIENT_SECRET';
      context.addIssue({
        code: 'custom',
        path: [missing],
        message: 'HEROKU_CONNECT_CLIENT_ID and HEROKU_CONNECT_CLIENT_SECRET go together: set both, or neither',
      });
    }
  });

/** The parsed configuration; field names are the environment names. `AWS` carries the AWS_* variables for the S3 SDK. */
export type Config = z.infer<typeof schema> & { AWS: Record<string, string> };

/** Thrown at boot with every problem listed, so one restart fixes them all. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses an environment (normally process.env) into a typed Config, or throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) {
    const aws = Object.fromEntries(Object.entries(cleaned).filter(([key]) => key.startsWith('AWS_'))) as Record<
      string,
      string
    >;
    return { ...result.data, AWS: aws };
  }
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      return issue.message.startsWith(key.split('.')[0] ?? '') ? issue.message : `${key}: ${issue.message}`;
    }),
  );
}
