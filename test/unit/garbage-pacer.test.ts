import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGarbagePacer, type GcFunction } from '../../src/engine/garbage-pacer.ts';

// The worker gets the collector from --expose-gc; this file exposes it for itself.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as GcFunction;
const MiB = 1024 * 1024;
const external = () => v8.getHeapStatistics().external_memory;

test('collects the young generation once dead buffers pass the slack, which keeps them from piling up', () => {
  const calls: unknown[] = [];
  const spy: GcFunction = (options) => {
    calls.push(options);
    gc(options);
  };
  gc();
  const start = external();
  const pace = createGarbagePacer({ slackBytes: 8 * MiB, checkEveryBytes: MiB }, spy);
  let peak = 0;
  // 256 MiB through a stage that allocates a fresh 1 MiB buffer per chunk, as the pipeline's stages do.
  for (let i = 0; i < 256; i++) {
    Buffer.allocUnsafe(MiB).fill(i);
    pace(MiB);
    peak = Math.max(peak, external() - start);
  }
  assert.ok(calls.length >= 10, `${calls.length} collections`);
  assert.ok(
    calls.every((c) => (c as { type?: string }).type === 'minor'),
    'young-generation collections only',
  );
  // V8 alone lets ~64 MiB pile up. The bound leaves room for the sweeper, which frees collected
  // buffers on a background thread and lags on busy cores (18 MiB seen beside a full test run).
  assert.ok(peak <= 32 * MiB, `dead buffers reached ${(peak / MiB).toFixed(1)} MiB above the start`);
});

test('leaves live memory alone: no collections while external memory stays within the slack', () => {
  const calls: unknown[] = [];
  const live = Buffer.alloc(4 * MiB);
  const pace = createGarbagePacer({ slackBytes: 8 * MiB, checkEveryBytes: MiB }, (options) => {
    calls.push(options);
    gc(options);
  });
  for (let i = 0; i < 64; i++) pace(MiB);
  assert.equal(calls.length, 0);
  assert.equal(live.length, 4 * MiB);
});

test('does nothing when the process has no collector exposed', () => {
  const pace = createGarbagePacer({ slackBytes: 1, checkEveryBytes: 1 }, null);
  for (let i = 0; i < 1000; i++) pace(MiB);
});
