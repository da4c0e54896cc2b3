-- Request counts for the rate limits (sign-on, download links), shared by every web process so the
-- limit holds however many dynos run. One fixed window per key. Unlogged: losing the counts in a
-- crash only resets some windows early.
create unlogged table rate_limit_hits (
  key text primary key,
  hits integer not null,
  reset_at timestamptz not null
);
create index rate_limit_hits_reset_at on rate_limit_hits (reset_at);
