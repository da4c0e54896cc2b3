import { createDatabase, type SourceServer } from './seed-source.ts';

/** What `seedRiskyDatabase` builds, for assertions. */
export const RISKY = {
  // With public: the 60 schemas the issue names, past the seed article's 50.
  tenantSchemas: 59,
  largeObjects: 200,
  unloggedTable: 'public.sessions_cache',
  herokuExtExtension: 'citext',
  role: 'bb_preflight_analyst',
} as const;

/**
 * A database made to trigger every pre-flight warning the seed article names: 55 tenant schemas (50+),
 * 200 large objects, an unlogged table, an extension installed in `heroku_ext`, and a role other than
 * the owner holding grants. Roles are per server, so the role is created only once.
 */
export async function seedRiskyDatabase(server: SourceServer, name: string): Promise<string> {
  const url = await createDatabase(server, name);
  const tenants = Array.from(
    { length: RISKY.tenantSchemas },
    (_, i) =>
      `create schema tenant_${i}; create table tenant_${i}.accounts (id int primary key, name text); insert into tenant_${i}.accounts values (1, 'tenant ${i}');`,
  ).join('\n');
  await server.run(
    name,
    `
    ${tenants}
    create unlogged table ${RISKY.unloggedTable} (id int primary key, payload text);
    insert into ${RISKY.unloggedTable} select i, md5(i::text) from generate_series(1, 500) i;
    create schema heroku_ext;
    create extension ${RISKY.herokuExtExtension} with schema heroku_ext;
    create table public.users (id int primary key, email heroku_ext.citext not null);
    insert into public.users select i, 'user' || i || '@example.com' from generate_series(1, 1000) i;
    select lo_from_bytea(0, convert_to(repeat('large object ' || i, 20), 'UTF8')) from generate_series(1, ${RISKY.largeObjects}) i;
    do $$ begin create role ${RISKY.role} nologin; exception when duplicate_object then null; end $$;
    grant usage on schema public to ${RISKY.role};
    grant select on public.users to ${RISKY.role};
  `,
  );
  return url;
}
