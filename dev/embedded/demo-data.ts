import pg from 'pg';

/** The demo app's database on the embedded cluster, attached to it as DATABASE_URL. */
export const DEMO_DATABASE = 'demo_shop';
/** Where the sample data is built; renamed to DEMO_DATABASE only once complete, so a stopped build is redone. */
const BUILDING = 'demo_shop_building';
/** What `npm start` builds when BIG_BACKUP_DEMO_DATA_MB is unset. */
export const DEFAULT_DEMO_DATA_MB = 250;

/** Rows per table at 250 MB; every count scales with the size asked for. */
const ROWS_AT_DEFAULT = { customers: 80_000, products: 10_000, orders: 450_000, events: 200_000, changes: 50_000 };

/**
 * Makes sure the embedded cluster holds the demo database, building it once (a few hundred MB of
 * shop-like data made by generate_series: several schemas, a partitioned table, a large table and a
 * few large objects). Later starts find it and reuse it. Returns whether it was built now.
 */
export async function ensureDemoDatabase(
  adminUrl: string,
  sizeMb: number,
  log: (line: string) => void,
): Promise<{ url: string; built: boolean }> {
  const url = databaseUrl(adminUrl, DEMO_DATABASE);
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    if ((await admin.query('select 1 from pg_database where datname = $1', [DEMO_DATABASE])).rowCount === 1)
      return { url, built: false };
    log(`building the demo database ${DEMO_DATABASE} (~${sizeMb} MB of sample data, once; later starts reuse it)`);
    const started = Date.now();
    await admin.query(`drop database if exists ${BUILDING} with (force)`);
    await admin.query(`create database ${BUILDING}`);
    const builder = new pg.Client(databaseUrl(adminUrl, BUILDING));
    await builder.connect();
    try {
      await builder.query('set synchronous_commit = off');
      for (const statement of demoDataSql(sizeMb / DEFAULT_DEMO_DATA_MB)) await builder.query(statement);
      await builder.query('vacuum analyze');
    } finally {
      await builder.end();
    }
    await admin.query(`alter database ${BUILDING} rename to ${DEMO_DATABASE}`);
    const size = (
      await admin.query<{ size: string }>('select pg_size_pretty(pg_database_size($1)) as size', [DEMO_DATABASE])
    ).rows[0]?.size;
    log(`built ${DEMO_DATABASE}: ${size} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { url, built: true };
  } finally {
    await admin.end();
  }
}

/** The statements that fill an empty database with sample data, `scale` 1 being the default size. */
export function demoDataSql(scale: number): string[] {
  const rows = Object.fromEntries(
    Object.entries(ROWS_AT_DEFAULT).map(([table, n]) => [table, Math.max(100, Math.round(n * scale))]),
  ) as typeof ROWS_AT_DEFAULT;
  const largeObjects = 4;
  const largeObjectKb = Math.max(16, Math.round(2048 * scale));
  return [
    'create schema shop',
    'create schema analytics',
    'create schema audit',
    `create table shop.customers (
       id bigint primary key, email text not null unique, name text not null, country char(2) not null, created_at timestamptz not null)`,
    `insert into shop.customers
     select i, 'customer' || i || '@example.com', 'Customer ' || i, (array['US','DE','FR','GB','JP','BR','IN','CA'])[1 + i % 8],
            now() - (i % 730) * interval '1 day' - (i * 7919 % 86400) * interval '1 second'
     from generate_series(1::bigint, ${rows.customers}) i`,
    `create table shop.products (id int primary key, sku text not null unique, name text not null, price_cents int not null, description text not null)`,
    `insert into shop.products
     select i, 'SKU-' || lpad(i::text, 6, '0'), 'Product ' || i, 100 + (i * 7919) % 100000, repeat(md5(i::text), 3)
     from generate_series(1::bigint, ${rows.products}) i`,
    // Orders are partitioned by month, two years of them, as a shop's biggest tables often are.
    `create table shop.orders (
       id bigint not null, customer_id bigint not null, ordered_at timestamptz not null, status text not null, total_cents bigint not null,
       primary key (id, ordered_at)) partition by range (ordered_at)`,
    `do $$
     declare month timestamptz;
     begin
       for n in 0..24 loop
         month := date_trunc('month', now()) - make_interval(months => 24 - n);
         execute format('create table shop.orders_%s partition of shop.orders for values from (%L) to (%L)',
                        to_char(month, 'YYYY_MM'), month, month + interval '1 month');
       end loop;
     end $$`,
    `insert into shop.orders
     select i, 1 + (i * 7) % ${rows.customers}, date_trunc('month', now()) - interval '24 months' + (i * 104729 % (700 * 86400)) * interval '1 second',
            (array['paid','shipped','delivered','refunded'])[1 + i % 4], 100 + (i * 31) % 50000
     from generate_series(1::bigint, ${rows.orders}) i`,
    // The large table: three lines per order.
    `create table shop.order_items (
       order_id bigint not null, line int not null, product_id int not null references shop.products, quantity int not null,
       price_cents int not null, gift_note text, primary key (order_id, line))`,
    `insert into shop.order_items
     select o, l, 1 + (o * 31 + l) % ${rows.products}, 1 + (o + l) % 5, 100 + (o * l) % 10000, case when o % 10 = 0 then 'Happy birthday! ' || md5(o::text) end
     from generate_series(1::bigint, ${rows.orders}) o, generate_series(1, 3) l`,
    `create table analytics.events (id bigint primary key, occurred_at timestamptz not null, customer_id bigint, kind text not null, properties jsonb not null)`,
    `insert into analytics.events
     select i, now() - (i % 90) * interval '1 day', 1 + i % ${rows.customers}, (array['page_view','add_to_cart','checkout','search'])[1 + i % 4],
            jsonb_build_object('path', '/products/' || (i % ${rows.products}), 'referrer', 'https://example.com/' || md5(i::text), 'session', md5((i / 7)::text))
     from generate_series(1::bigint, ${rows.events}) i`,
    'create index on analytics.events (occurred_at)',
    `create table audit.changes (id bigint primary key, at timestamptz not null, actor text not null, change text not null)`,
    `insert into audit.changes
     select i, now() - i * interval '1 minute', 'admin' || (i % 5) || '@example.com', 'updated price of SKU-' || lpad((i % ${rows.products})::text, 6, '0')
     from generate_series(1::bigint, ${rows.changes}) i`,
    // A few large objects (product images, as a legacy app might keep them), referenced from a table.
    `create table shop.product_images (product_id int primary key references shop.products, image oid not null)`,
    `insert into shop.product_images
     select p, lo_from_bytea(0, (select string_agg(decode(md5(p::text || '-' || k), 'hex'), ''::bytea) from generate_series(1, ${largeObjectKb * 64}) k))
     from generate_series(1, ${largeObjects}) p`,
  ];
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
