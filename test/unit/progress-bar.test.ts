import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatDuration, renderBar, renderLine, type ProgressState } from '../../src/cli/progress-bar.ts';
import { chooseMode, createReporter } from '../../src/cli/reporter.ts';

const state: ProgressState = {
  verb: 'dumped',
  bytes: 1.5 * 1024 ** 3,
  bytesPerSecond: 35 * 1024 ** 2,
  fraction: 0.42,
  etaSeconds: 192,
  table: 'public.orders',
};

test('formats sizes and durations for people', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(123 * 1024 ** 2), '123 MiB');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(192), '3m12s');
  assert.equal(formatDuration(7500), '2h05m');
});

test('the bar shows percent, bytes, rate, ETA and the table, within the terminal width', () => {
  const line = renderBar(state, 100);
  assert.equal(line, '[#############.................]  42% 1.50 GiB 35.0 MiB/s ETA 3m12s public.orders');
  for (const width of [100, 60, 40, 20])
    assert.ok(renderBar(state, width).length < width, `width ${width}: ${renderBar(state, width)}`);
  assert.match(renderBar({ ...state, verb: 'verified', table: null }, 100), / verifying$/);
  assert.match(renderBar({ ...state, fraction: null, etaSeconds: null }, 100), /\?% .* ETA --/);
});

test('plain lines say what is happening without terminal codes', () => {
  assert.equal(renderLine(state), 'dumped 1.50 GiB (42%), 35.0 MiB/s, ETA 3m12s, table public.orders');
  assert.equal(
    renderLine({ ...state, verb: 'verified', table: null, fraction: 1, etaSeconds: 0 }),
    'verified 1.50 GiB (100%), 35.0 MiB/s, ETA 0s',
  );
});

test('a bar only on a terminal without --json; lines otherwise; nothing with --quiet', () => {
  assert.equal(chooseMode({ write: () => true, isTTY: true }, { json: false, quiet: false }), 'bar');
  assert.equal(chooseMode({ write: () => true, isTTY: true }, { json: true, quiet: false }), 'lines');
  assert.equal(chooseMode({ write: () => true }, { json: false, quiet: false }), 'lines');
  assert.equal(chooseMode({ write: () => true, isTTY: true }, { json: false, quiet: true }), 'none');

  const written: string[] = [];
  const stream = { write: (text: string) => written.push(text), isTTY: true, columns: 80 };
  const bar = createReporter(stream, 'bar');
  bar.progress(state);
  bar.status('stored');
  bar.clear();
  assert.deepEqual(
    written.map((w) => w.replaceAll('\r\x1b[K', '<clear>')),
    [`<clear>${renderBar(state, 80)}`, '<clear>', 'stored\n', `<clear>${renderBar(state, 80)}`, '<clear>'],
  );

  written.length = 0;
  const lines = createReporter(stream, 'lines', { lineIntervalMs: 0 });
  lines.progress(state);
  lines.status('stored');
  assert.deepEqual(written, [`big-backup: ${renderLine(state)}\n`, 'big-backup: stored\n']);

  written.length = 0;
  const none = createReporter(stream, 'none');
  none.progress(state);
  none.status('stored');
  assert.deepEqual(written, []);
});
