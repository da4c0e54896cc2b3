import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cpuTable, type SizeResult } from '../../bench/report.ts';

const db = {
  name: 'bench_x',
  targetBytes: 1,
  bytes: 1,
  tables: [],
  largeObjects: 0,
  largeObjectBytes: 0,
  userTables: 0,
  buildSeconds: 0,
};

function sizeResult(): SizeResult {
  return {
    db,
    partSize: 16,
    queueSize: 4,
    variants: [
      { variant: 'plain', errors: [], samples: [{ seconds: 26, bytes: 1, cpu: { tools: 25, server: 5 } }] },
      // 30 CPU-seconds on 2 cores cannot take less than 15 s: at best 26 ÷ 15 = 1.73×; 24 s without the S3 server's 6.
      {
        variant: 'default-s3',
        errors: [],
        samples: [{ seconds: 17, bytes: 1, cpu: { worker: 4, tools: 15, server: 5, s3: 6 } }],
      },
      {
        variant: 'default-file',
        errors: [],
        samples: [{ seconds: 14, bytes: 1, cpu: { worker: 3, tools: 15, server: 4 } }],
      },
    ],
  };
}

function row(table: string, variant: string): string[] {
  const line = table.split('\n').find((l) => l.startsWith(`${variant} `));
  assert.ok(line, `a row for ${variant}`);
  return line.trim().split(/\s{2,}/);
}

describe('the benchmark CPU table', () => {
  test('gives the highest speed-up the CPU a variant spent allows on this many cores', () => {
    const table = cpuTable(sizeResult(), 2);
    assert.deepEqual(row(table, 'default-s3').slice(6), ['30.0', '1.76', '15.0', '1.73', '2.17']);
    assert.deepEqual(row(table, 'default-file').slice(6), ['22.0', '1.57', '11.0', '2.36', '–']);
    assert.deepEqual(row(table, 'plain').slice(9), ['–', '–']);
  });

  test('divides by the cores it is given', () => {
    assert.deepEqual(row(cpuTable(sizeResult(), 4), 'default-file').slice(8, 10), ['5.5', '4.73']);
  });
});
