import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GiB, MiB, planParts, S3_MAX_PART_SIZE } from '../../src/storage/part-plan.ts';
import { rejectsWith } from '../support/object-store-contract.ts';

const TiB = 1024 * GiB;

describe('planParts', () => {
  test('never plans more than maxParts parts for 1.5× the estimate, whatever its size', () => {
    for (const maxParts of [10_000, 1_000, 3]) {
      for (const estimate of [0, 1, 5 * MiB, 20 * GiB, 470 * GiB, 1 * TiB, 5 * TiB]) {
        let plan;
        try {
          plan = planParts(estimate, { maxParts, partSizeFloor: 5 * MiB });
        } catch {
          continue; // too large for this many parts; covered below
        }
        assert.equal(plan.partSize % MiB, 0, 'whole MiB parts');
        assert.ok(plan.partSize >= 5 * MiB && plan.partSize <= S3_MAX_PART_SIZE);
        assert.ok(Math.ceil((estimate * 1.5) / plan.partSize) <= maxParts, `${estimate} bytes in ${maxParts} parts`);
        assert.equal(plan.maxBytes, plan.partSize * maxParts);
      }
    }
  });

  test('uses the 16 MiB floor for small databases and larger parts for large ones', () => {
    assert.equal(planParts(undefined, { maxParts: 10_000 }).partSize, 16 * MiB);
    assert.equal(planParts(20 * GiB, { maxParts: 10_000 }).partSize, 16 * MiB);
    // 1 TiB × 1.5 / 10,000 = 157.3 MiB → 158 MiB parts, about 950 MiB of buffers with a queue of 4.
    assert.equal(planParts(1 * TiB, { maxParts: 10_000 }).partSize, 158 * MiB);
  });

  test('plans the largest supported dump (5 TiB) within 10,000 parts', () => {
    const plan = planParts(5 * TiB, { maxParts: 10_000 });
    assert.ok(plan.maxBytes >= 7.5 * TiB);
    assert.ok(plan.partSize <= S3_MAX_PART_SIZE);
  });

  test('refuses an estimate that even 5 GiB parts cannot hold, before anything is uploaded', async () => {
    await rejectsWith(
      Promise.resolve().then(() => planParts(40 * TiB, { maxParts: 10_000 })),
      'too_large',
    );
    await rejectsWith(
      Promise.resolve().then(() => planParts(20 * GiB, { maxParts: 3 })),
      'too_large',
    );
  });

  test('refuses settings S3 would reject', async () => {
    await rejectsWith(
      Promise.resolve().then(() => planParts(0, { maxParts: 10_001 })),
      'invalid_config',
    );
    await rejectsWith(
      Promise.resolve().then(() => planParts(0, { maxParts: 10_000, partSizeFloor: 4 * MiB })),
      'invalid_config',
    );
    await rejectsWith(
      Promise.resolve().then(() => planParts(-1, { maxParts: 10_000 })),
      'invalid_config',
    );
  });
});
