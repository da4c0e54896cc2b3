import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The Procfile runs `npm run build`'s output (dist/), not the sources the other tests run: prove that
// output loads. Every compiled module is imported (so every rewritten import specifier resolves), and
// the CLI answers from it.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

test('the build compiles every source file to dist/, and the compiled modules and CLI load', async () => {
  rmSync(path.join(ROOT, 'dist'), { recursive: true, force: true });
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT });
  const modules = (readdirSync(path.join(ROOT, 'dist'), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.js') && !file.startsWith(`bin${path.sep}`))
    .map((file) => path.join(ROOT, 'dist', file));
  const sources = (readdirSync(path.join(ROOT, 'src'), { recursive: true }) as string[]).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.startsWith(`bin${path.sep}`));
  assert.equal(modules.length, sources.length, 'one compiled module per source file');

  // In a child without type stripping, so nothing can fall back to a .ts file.
  const script = `for (const m of ${JSON.stringify(modules)}) await import(m); console.log('loaded', ${modules.length});`;
  const loaded = await run(process.execPath, ['--no-experimental-strip-types', '--input-type=module', '-e', script], { cwd: ROOT });
  assert.match(loaded.stdout, new RegExp(`loaded ${modules.length}`));

  const help = await run(process.execPath, ['--no-experimental-strip-types', path.join(ROOT, 'dist/bin/big-backup.js'), '--help'], { cwd: ROOT });
  assert.match(help.stdout, /Usage: big-backup <command>/);
});
