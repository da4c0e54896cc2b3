-- Sharded capture (issue 14): a backup of a source that cannot change while it runs (a fork, or a direct
-- source an admin declared static) is dumped in pieces by any worker process, at any time, and the
-- pieces are assembled into one ordinary archive. The backup records which way it was captured and why,
-- the plan (its `headBase64` holds the archive's header and TOC), and its own deadline, which may exceed
-- the 24 hours of any one job since no single job runs long.
alter table backups
  add column capture_mode text check (capture_mode in ('sharded', 'single')),
  add column capture_mode_reason text,
  add column shard_plan jsonb,
  add column deadline_at timestamptz;
-- The sweeper looks at sharded backups still in flight.
create index backups_sharded_in_flight on backups (deadline_at)
  where capture_mode = 'sharded' and state in ('running', 'verifying');

-- One row per planned piece of one attempt. A piece is done only with storage's proof (bytes and sha256
-- of its object) and the facts the assembler needs (raw bytes and Adler-32); a piece from an attempt that
-- was replaced can never be counted: its rows carry its attempt, and each run its own token.
create table backup_pieces (
  backup_id uuid not null references backups (id) on delete cascade,
  attempt integer not null,
  piece_no integer not null,
  dump_id integer not null,
  kind text not null check (kind in ('table', 'large_objects')),
  schema_name text,
  table_name text,
  from_block bigint,
  to_block bigint,
  part integer not null,
  parts integer not null,
  -- Place in the run order (largest first).
  run_order integer not null,
  estimated_bytes bigint not null,
  state text not null default 'waiting' check (state in ('waiting', 'running', 'done', 'failed')),
  -- Set when the piece's job is sent; a waiting piece with it set is queued (or waiting for pg-boss's retry).
  dispatched_at timestamptz,
  attempts integer not null default 0,
  run_token uuid,
  worker text,
  started_at timestamptz,
  finished_at timestamptz,
  bytes bigint,
  sha256 text,
  raw_bytes bigint,
  adler32 bigint,
  rows bigint,
  seconds double precision,
  bytes_per_second bigint,
  object_key text,
  last_error text,
  primary key (backup_id, attempt, piece_no),
  check (state <> 'done' or (bytes is not null and sha256 is not null and object_key is not null
    and raw_bytes is not null and adler32 is not null))
);
create index backup_pieces_open on backup_pieces (backup_id, attempt) where state in ('waiting', 'running');

-- A direct source an admin declared static (it cannot change while a backup runs: a follower that was
-- unfollowed, a restore target): its backups are captured in pieces like a fork's.
alter table backup_sources
  add column static_declared_at timestamptz,
  add column static_declared_by text;
