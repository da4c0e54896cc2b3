import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// node:test runs a file's tests as soon as they are registered, while the module goes on loading. When
// every test registered so far has finished and the module is still awaiting (a second stack starting,
// a tenant being made), the file's after() hooks run at once: the stacks stop, and the tests registered
// later meet a stopped app (a provision answered ECONNREFUSED in 5 ms) or are never run at all (the
// process is ended while its setup waits on a stopped server). So it only happens when that setup is
// slower than the tests before it: on a loaded machine, in a full run. A file must therefore finish its
// top-level setup (every top-level await) before it registers its first test.

const TEST_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTERS = new Set(['test', 'describe', 'it', 'suite']);
const VARIANTS = new Set(['skip', 'only', 'todo']);

function testFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** True when `node`, run as module code (not inside a function), satisfies `found`. */
function atModuleLevel(node: ts.Node, found: (n: ts.Node) => boolean): boolean {
  if (found(node)) return true;
  if (ts.isFunctionLike(node)) return false;
  return ts.forEachChild(node, (child) => atModuleLevel(child, found) || undefined) ?? false;
}

/** `test(…)`, `describe(…)`, `test.skip(…)`: not the hooks (`test.after(…)`). */
function registersTest(node: ts.Node): boolean {
  if (!ts.isCallExpression(node)) return false;
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return REGISTERS.has(callee.text);
  return (
    ts.isPropertyAccessExpression(callee) &&
    ts.isIdentifier(callee.expression) &&
    REGISTERS.has(callee.expression.text) &&
    VARIANTS.has(callee.name.text)
  );
}

function awaits(node: ts.Node): boolean {
  return ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier !== undefined);
}

/** `file:line` of each top-level statement that awaits after the file registered a test. */
function awaitsAfterFirstTest(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const late: string[] = [];
  let registered = false;
  for (const statement of source.statements) {
    if (registered && atModuleLevel(statement, awaits)) {
      const line = source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1;
      late.push(`${path.relative(TEST_ROOT, file)}:${line}`);
    }
    registered ||= atModuleLevel(statement, registersTest);
  }
  return late;
}

test('every test file finishes its top-level setup before it registers its first test', () => {
  const late = testFiles(TEST_ROOT).flatMap((file) => awaitsAfterFirstTest(file, readFileSync(file, 'utf8')));
  assert.deepEqual(late, [], 'move these awaits above the first test (or into the test that needs them)');
});

test('the check sees an await after a test, a suite or a loop of tests, and not inside them or in hooks', () => {
  const check = (text: string) => awaitsAfterFirstTest(path.join(TEST_ROOT, 'x.test.ts'), text);
  assert.deepEqual(check(`const a = await start();\ntest('t', async () => { await a.go(); });`), []);
  assert.deepEqual(check(`test('t', () => {});\nconst b = await start();`), ['x.test.ts:2']);
  assert.deepEqual(check(`describe('s', () => { it('t', () => {}); });\nawait start();`), ['x.test.ts:2']);
  assert.deepEqual(check(`for (const n of [1]) test.skip(String(n), () => {});\nf(await g());`), ['x.test.ts:2']);
  assert.deepEqual(check(`test.after(async () => { await stop(); });\nawait start();\ntest('t', () => {});`), []);
  assert.deepEqual(check(`test('t', () => {});\nasync function later() { await start(); }`), []);
});
