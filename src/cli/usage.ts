/** The help texts of the one-shot command; `--help` prints them to stdout. */

export const MAIN_USAGE = `Usage: big-backup <command> [options]

Verified logical backups (pg_dump archives) of a Postgres database, outside the add-on's queue:
the same engine and the same verification, for a one-off dyno or any machine.

Commands:
  capture   dump a database to storage, read the archive back and verify it
  verify    re-check an archive already in storage

Run "big-backup <command> --help" for a command's options.

Example, on a detached one-off dyno:
  heroku run:detached --size=performance-l -- \\
    npx big-backup capture --source env:DATABASE_URL --to s3://my-bucket/backups
`;

export const CAPTURE_USAGE = `Usage: big-backup capture --source <database-url|env:NAME> --to <storage-url> [options]

Streams a pg_dump archive of the database to storage, then reads it back and proves it (size,
SHA-256, pg_restore reads every entry). Exits 0 only when the stored archive is verified; a failed
or interrupted capture leaves nothing in storage (except, with --parallel and --key, the finished
pieces of an interrupted one, for --resume).

Options:
  --source <url|env:NAME>  the database: postgres://user:password@host:port/database, or env:NAME
                           to read that URL from environment variable NAME (keeps the password
                           out of every process's argv; prefer it)
  --to <storage-url>       s3://bucket/prefix[?options] or file:///absolute/path
  --format <default|fast>  default: a stock custom-format archive (gzip level 2) any pg_restore reads;
                           fast: zstd, inside the archive with pg_dump 16+, otherwise an archive
                           wrapped in zstd (.dump.zst); default: default
  --key <key>              the object's key; default big-backup/<database>/<UTC time>-<random>.dump[.zst]
  --stall-timeout <s>      stop when pg_dump moves no bytes for this many seconds; default 300
  --parallel <N>           dump the database in pieces, N at a time (2 to 64), and join them into one
                           ordinary archive: only for a source nothing writes to while it is dumped
                           (a fork, a restored copy), which N > 1 declares it to be; default 1 (one
                           pg_dump stream). The default format only; large objects in a pg_dump 17+
                           archive make it one stream, and the result says which mode ran and why
  --split-size <size>      with --parallel: cut tables larger than this into ctid ranges (PostgreSQL
                           14+), e.g. 512MB or 2GB; default 1GB
  --resume                 with --parallel and the same --key: carry on from the pieces an interrupted
                           run left in storage (a run interrupted with --key keeps its finished pieces)
  --json                   print one JSON object with the result (or the error) on stdout at the end
  -q, --quiet              no progress on stderr, only errors
  -v, --verbose            also print pg_dump's own log lines on stderr
  -h, --help               show this help

Environment:
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL_S3
                           credentials, region and endpoint for s3:// storage
  PG_BIN_DIR               a folder holding pg_dump and pg_restore, preferred over
                           /usr/lib/postgresql/*/bin and the PATH

Exit status: 0 verified, 1 failed, 2 usage error, 130 or 143 interrupted (SIGINT, SIGTERM).
`;

export const VERIFY_USAGE = `Usage: big-backup verify --from <storage-url> --key <key> [options]

Reads a stored archive back and checks it against the size and SHA-256 sealed in storage when it
was written, then has pg_restore read every entry. Uses the newest pg_restore found here.

Options:
  --from <storage-url>     s3://bucket/prefix[?options] or file:///absolute/path
  --key <key>              the archive's key, as printed by "big-backup capture"
  --json                   print one JSON object with the result (or the error) on stdout at the end
  -q, --quiet              no progress on stderr, only errors
  -h, --help               show this help

Environment: the AWS_* variables for s3:// storage, and PG_BIN_DIR, as for capture.

Exit status: 0 verified, 1 failed (or not verifiable), 2 usage error, 130 or 143 interrupted.
`;
