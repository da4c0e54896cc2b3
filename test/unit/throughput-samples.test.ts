import test from 'node:test';
import assert from 'node:assert/strict';
import { createThroughputSamples, MAX_SAMPLES } from '../../src/backups/throughput-samples.ts';

test('keeps every sample of a short run, in order', () => {
  const s = createThroughputSamples(0);
  for (let i = 1; i <= 10; i++) s.add(i * 1000, i * 100);
  assert.deepEqual(
    s.list().map(([t]) => t),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
});

test('a run of hours stays within the sample budget and still spans start to end', () => {
  const s = createThroughputSamples(0);
  const seconds = 6 * 3600;
  for (let i = 1; i <= seconds; i++) s.add(i * 1000, i);
  const list = s.list();
  assert.ok(list.length <= MAX_SAMPLES, `${list.length} samples`);
  assert.ok(list.length >= MAX_SAMPLES / 4, `${list.length} samples`);
  assert.equal(list[0]![0], 1);
  assert.ok(list.at(-1)![0] > seconds * 0.95, 'reaches the end of the run');
  for (let i = 1; i < list.length; i++) assert.ok(list[i]![0] > list[i - 1]![0], 'increasing');
});
