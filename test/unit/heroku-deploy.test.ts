import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUPPORTED_SERVER_MAJORS, defaultVersionedRoots } from '../../src/engine/pg-binaries.ts';

// What a Heroku deploy is made of (app.json, Procfile, Aptfile) checked against what the code expects:
// the worker's pg_dump search, the build's output folder and the npm scripts development runs.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

const appJson = JSON.parse(read('app.json')) as {
  stack: string;
  buildpacks: { url: string }[];
  formation: Record<string, unknown>;
};
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
const buildConfig = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: { rootDir: string; outDir: string } };

/** The Aptfile's entries: `:repo:` lines and package names; comments and blank lines dropped. */
function aptfile(): { repos: string[]; packages: string[] } {
  const lines = read('Aptfile')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return {
    repos: lines.filter((line) => line.startsWith(':repo:')).map((line) => line.slice(':repo:'.length)),
    packages: lines.filter((line) => !line.startsWith(':repo:')),
  };
}

/** The Procfile's process types and their commands. */
function procfile(): Map<string, string> {
  const entries = read('Procfile')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const match = /^([a-z]+):\s*(.+)$/.exec(line);
      assert.ok(match?.[1] && match[2], `Procfile line "${line}"`);
      return [match[1], match[2].trim()] as const;
    });
  return new Map(entries);
}

// Ubuntu release of each Heroku stack: the PostgreSQL repository's suite is named after it.
const STACK_CODENAMES: Record<string, string> = { 'heroku-22': 'jammy', 'heroku-24': 'noble' };

test('app.json runs the apt buildpack before the Node.js one', () => {
  const urls = appJson.buildpacks.map((b) => b.url);
  assert.deepEqual(urls, ['heroku-community/apt', 'heroku/nodejs']);
});

test("the Aptfile adds the PostgreSQL project's repository for the stack app.json names, signed by its key", () => {
  const codename = STACK_CODENAMES[appJson.stack];
  assert.ok(codename, `a known stack, not ${appJson.stack}`);
  const { repos } = aptfile();
  assert.equal(repos.length, 1);
  // The key file ships in the heroku-24 image (postgresql-common, and the stack's own PGDG source).
  assert.equal(
    repos[0],
    `deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${codename}-pgdg main`,
  );
});

test('the Aptfile installs a PostgreSQL client for every supported server major, where the worker looks', () => {
  const { packages } = aptfile();
  for (const name of packages) assert.match(name, /^[a-z0-9][a-z0-9+.-]+$/, 'one package name a line');
  const majors = packages
    .map((name) => /^postgresql-client-(\d+)$/.exec(name)?.[1])
    .filter((m) => m !== undefined)
    .map(Number);
  assert.deepEqual(
    majors.sort((a, b) => a - b),
    [...SUPPORTED_SERVER_MAJORS],
  );
  // The buildpack unpacks packages under $HOME/.apt (HOME is /app on a dyno): postgresql-client-NN's
  // binaries land in /app/.apt/usr/lib/postgresql/NN/bin.
  assert.ok(defaultVersionedRoots('/app').includes('/app/.apt/usr/lib/postgresql'));
});

test('every Procfile process runs what the build compiles from src/bin, as its npm script runs the source', () => {
  const processes = procfile();
  assert.deepEqual([...processes.keys()].sort(), ['release', 'web', 'worker']);
  for (const type of Object.keys(appJson.formation))
    assert.ok(processes.has(type), `app.json formation ${type} is in the Procfile`);
  assert.match(
    packageJson.scripts.build ?? '',
    /tsc -p tsconfig\.build\.json/,
    'the build Heroku runs is the one whose output is checked',
  );

  const { rootDir, outDir } = buildConfig.compilerOptions;
  for (const [type, command] of processes) {
    const match = /^node((?: --[a-z-]+(?:=\S+)?)*) (\S+\.js)$/.exec(command);
    assert.ok(match?.[2] !== undefined, `${type}: "${command}" runs node on one compiled file`);
    const [, flags = '', compiled] = match;
    assert.ok(compiled.startsWith(`${outDir}/`), `${type} runs a file under ${outDir}/`);
    const source = path.join(rootDir, path.relative(outDir, compiled)).replace(/\.js$/, '.ts');
    assert.ok(source.startsWith(path.join(rootDir, 'bin') + path.sep), `${type} starts from an entry point in src/bin`);
    assert.ok(existsSync(path.join(ROOT, source)), `${compiled} is compiled from ${source}, which exists`);
    const script = Object.values(packageJson.scripts).find((value) => value.endsWith(` ${source}`));
    assert.equal(
      script,
      `node${flags} ${source}`,
      `${type}: the npm script for ${source} runs it with the same node flags`,
    );
  }
});
