import test from 'node:test';
import assert from 'node:assert/strict';
import { planCompose, S3_MAX_PART_BYTES, S3_MIN_PART_BYTES, type ComposePart } from '../../src/storage/compose-plan.ts';
import type { ComposeSegment } from '../../src/storage/object-store.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const range = (key: string, bytes: number, start = 0) => ({ key, start, end: start + bytes - 1 });

/** The parts' sources in order, merged where adjacent, as [key or 'inline', start, end]. */
function flatten(parts: ComposePart[]): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  const add = (key: string, start: number, end: number) => {
    const last = out.at(-1);
    if (last && last[0] === key && last[2] + 1 === start) last[2] = end;
    else out.push([key, start, end]);
  };
  for (const part of parts) {
    if ('copy' in part) add(part.copy.key, part.copy.start, part.copy.end);
    else
      for (const s of part.upload)
        if (Buffer.isBuffer(s)) add('inline', 0, s.length - 1);
        else add(s.key, s.start, s.end);
  }
  return out;
}

function check(segments: ComposeSegment[], parts: ComposePart[]): void {
  const total = segments.reduce((sum, s) => sum + (Buffer.isBuffer(s) ? s.length : s.end - s.start + 1), 0);
  assert.equal(
    parts.reduce((sum, p) => sum + p.bytes, 0),
    total,
  );
  for (const part of parts.slice(0, -1)) assert.ok(part.bytes >= S3_MIN_PART_BYTES, `a part of ${part.bytes} bytes`);
  for (const part of parts) assert.ok(part.bytes <= S3_MAX_PART_BYTES);
}

test('copies large ranges, gathers small bytes, and fills a short part from the next range', () => {
  const segments: ComposeSegment[] = [
    Buffer.alloc(100),
    range('a', 40 * MiB),
    Buffer.alloc(30),
    range('b', MiB),
    range('c', 12 * MiB),
    Buffer.alloc(5),
  ];
  const parts = planCompose(segments, { maxParts: 10_000 });
  check(segments, parts);
  assert.deepEqual(
    parts.map((p) => ('copy' in p ? `copy ${p.copy.key}` : 'upload')),
    ['upload', 'copy a', 'upload', 'copy c', 'upload'],
  );
  assert.equal(parts[0]!.bytes, S3_MIN_PART_BYTES, 'the head is topped up to 5 MiB from the first range');
  assert.deepEqual(flatten(parts), [
    ['inline', 0, 99],
    ['a', 0, 40 * MiB - 1],
    ['inline', 0, 29],
    ['b', 0, MiB - 1],
    ['c', 0, 12 * MiB - 1],
    ['inline', 0, 4],
  ]);
});

test('splits a range over 5 GiB into copy parts of at most 5 GiB', () => {
  const segments: ComposeSegment[] = [range('huge', 12 * GiB + 7)];
  const parts = planCompose(segments, { maxParts: 10_000 });
  check(segments, parts);
  assert.equal(parts.length, 3);
  assert.ok(parts.every((p) => 'copy' in p));
});

test('uses bigger parts when there would be too many, and refuses when even 5 GiB parts are too many', () => {
  const segments: ComposeSegment[] = Array.from({ length: 40 }, (_, i) => [
    Buffer.alloc(10),
    range(`p${i}`, 6 * MiB),
  ]).flat();
  const parts = planCompose(segments, { maxParts: 20 });
  check(segments, parts);
  assert.ok(parts.length <= 20, `${parts.length} parts`);
  assert.throws(() => planCompose([range('x', 30 * GiB)], { maxParts: 2 }), /more than 2 parts/);
});
