import test from 'node:test';
import assert from 'node:assert/strict';
import type { DatabaseSurvey } from '../../src/engine/index.ts';
import { PLANS } from '../../src/resources/plans.ts';
import { assessSurvey, MANY_SCHEMAS, type AssessmentInput } from '../../src/preflight/assess-survey.ts';
import {
  ASSUMED_BYTES_PER_SECOND,
  estimateDuration,
  measuredThroughput,
  type PastBackup,
} from '../../src/preflight/duration-estimate.ts';
import { bySeverity, summaryLine } from '../../src/preflight/finding.ts';

const GB = 1_000_000_000;

function survey(databaseBytes: number, parts: Partial<DatabaseSurvey> = {}): DatabaseSurvey {
  return {
    server: { versionNum: 150018, version: '15.18', major: 15, databaseBytes },
    counts: { tables: 10, schemas: 2, largeObjects: 0, largeObjectBytes: 0 },
    tables: {
      totalBytes: databaseBytes / 2,
      largest: [{ schema: 'public', name: 'events', bytes: databaseBytes / 4 }],
    },
    unlogged: [],
    herokuExt: [],
    roles: [],
    unavailable: [],
    ...parts,
  };
}

const input = (s: DatabaseSurvey, more: Partial<AssessmentInput> = {}): AssessmentInput => ({
  survey: s,
  plan: PLANS.standard,
  capture: 'fork',
  pgDumpMajors: [15, 17],
  ...more,
});

const past = (sourceBytes: number, seconds: number, rate: number | null = null): PastBackup => ({
  name: 'b001',
  sourceBytes,
  finishedAt: new Date('2026-12-01T00:00:00Z'),
  samples: seconds > 0 ? [[30, 0] as [number, number], [30 + seconds, 1] as [number, number]] : [],
  sourceBytesPerSecond: rate,
});

test("a database's own throughput is the median of its recent backups' size over dump time", () => {
  const measured = measuredThroughput([past(100e6, 10), past(100e6, 100), past(100e6, 20)]);
  assert.deepEqual(measured, { bytesPerSecond: 5e6, backups: 3 });
  assert.equal(measuredThroughput([past(100e6, 0, 2e6)])?.bytesPerSecond, 2e6, 'a backup too short for two samples');
  assert.equal(measuredThroughput([]), undefined);
});

test('before any backup the estimate states its assumed rate; after one it uses the measured rate', () => {
  const assumed = estimateDuration(64 * 1024 * 1024 * 3600, PLANS.basic, undefined);
  assert.equal(assumed.basis, 'assumed');
  assert.equal(assumed.bytesPerSecond, ASSUMED_BYTES_PER_SECOND);
  assert.equal(Math.round(assumed.seconds), 3600);
  const measured = estimateDuration(1e9, PLANS.basic, { bytesPerSecond: 1e6, backups: 2 });
  assert.equal(measured.basis, 'measured');
  assert.equal(measured.seconds, 1000);
  assert.equal(measured.sharded.pieces, 2);
});

test('a single stream that outlasts the plan is critical and points fork-based backups to the sharded capture', () => {
  // 1 TB at 10 MB/s: 27.8 h, past Standard's 20 h; 4 pieces at once bring it to about 11 h.
  const slow = { measured: { bytesPerSecond: 10e6, backups: 3 } };
  const fork = assessSurvey(input(survey(1000 * GB), slow)).find((f) => f.code === 'expected_duration')!;
  assert.equal(fork.severity, 'critical');
  assert.match(
    fork.title,
    /28 h at this database's own rate of 10 MB\/s \(median of its last 3 backups\); the Standard plan allows 20 h/,
  );
  assert.match(fork.advice, /sharded capture \(4 pieces at once on Standard\) is expected to take about 11 h/);
  assert.match(fork.advice, /must use the sharded capture/);
  const direct = assessSurvey(input(survey(1000 * GB), { ...slow, capture: 'direct' })).find(
    (f) => f.code === 'expected_duration',
  )!;
  assert.equal(direct.severity, 'critical');
  assert.match(direct.advice, /connect Heroku so backups are taken from a fork/);
  const quick = assessSurvey(input(survey(10 * GB))).find((f) => f.code === 'expected_duration')!;
  assert.equal(quick.severity, 'info');
  assert.match(quick.title, /at an assumed 67\.1 MB\/s/);
});

test('schemas warn from 50, a server newer than every pg_dump is critical, an unread section is a warning', () => {
  const codes = (s: DatabaseSurvey, more: Partial<AssessmentInput> = {}) =>
    assessSurvey(input(s, more)).map((f) => `${f.code}:${f.severity}`);
  const counts = (schemas: number) => ({ tables: 60, schemas, largeObjects: 0, largeObjectBytes: 0 });
  assert.ok(!codes(survey(GB, { counts: counts(MANY_SCHEMAS - 1) })).includes('many_schemas:warning'));
  assert.ok(codes(survey(GB, { counts: counts(MANY_SCHEMAS) })).includes('many_schemas:warning'));
  const newer = survey(GB, { server: { versionNum: 170002, version: '17.2', major: 17, databaseBytes: GB } });
  assert.ok(codes(newer, { pgDumpMajors: [15] }).includes('pg_dump_missing:critical'));
  assert.ok(codes(newer, { pgDumpMajors: [15, 18] }).includes('server_version:info'));
  const partial = survey(GB, { roles: undefined, unavailable: [{ section: 'roles', problem: 'permission denied' }] });
  const findings = assessSurvey(input(partial));
  assert.ok(findings.some((f) => f.code === 'survey_incomplete' && f.severity === 'warning'));
  assert.ok(!findings.some((f) => f.code === 'roles_and_grants'), 'no claim about roles it could not read');
});

test('a database near or over the plan limit says which plan covers it', () => {
  const over = assessSurvey(input(survey(1200 * GB))).find((f) => f.code === 'plan_size_limit')!;
  assert.equal(over.severity, 'critical');
  assert.match(over.advice, /heroku addons:upgrade big-backup:premium/);
  const near = assessSurvey(input(survey(850 * GB))).find((f) => f.code === 'plan_size_limit')!;
  assert.equal(near.severity, 'warning');
  assert.equal(
    assessSurvey(input(survey(100 * GB))).find((f) => f.code === 'plan_size_limit'),
    undefined,
  );
});

test('findings sort most severe first and the summary names only warnings and worse', () => {
  const findings = assessSurvey(
    input(survey(1200 * GB, { counts: { tables: 60, schemas: 60, largeObjects: 0, largeObjectBytes: 0 } })),
  );
  const sorted = bySeverity(findings).map((f) => f.severity);
  assert.deepEqual(
    sorted,
    [...sorted].sort((a, b) => ['critical', 'warning', 'info'].indexOf(a) - ['critical', 'warning', 'info'].indexOf(b)),
  );
  assert.match(summaryLine(findings), /^1 critical, 1 warning: The database \(1,200 GB\) is larger .*; 60 schemas/);
  assert.equal(summaryLine(assessSurvey(input(survey(GB)))), 'no warnings');
});
