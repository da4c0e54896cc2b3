-- Tokens for scripts and CI pipelines (`Authorization: Bearer bbk_...`). Shown once at creation; only
-- a SHA-256 of the secret is kept. Scoped to one resource, with the role the creating admin chose.
create table api_tokens (
  id uuid primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  token_hash text not null unique,
  -- The first characters of the token, so people can tell their tokens apart in a list.
  prefix text not null,
  role text not null check (role in ('admin', 'member')),
  created_by text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  last_used_ip inet,
  revoked_at timestamptz,
  revoked_by text
);
create index api_tokens_resource on api_tokens (resource_id, created_at desc);
