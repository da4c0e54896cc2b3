import type { BackupFailure } from '../shared/backup-failure.ts';
import { connectionFailed, dumpFailed, versionRefused } from './dump-failures.ts';

const MAX_REASON = 1000;

/**
 * Turns a non-zero exit of pg_dump into a failure from its (already redacted) last stderr lines.
 * pg_dump exits 1 for every error, so the kind comes from the message text (LC_ALL=C).
 */
export function classifyExit(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderrTail: readonly string[],
): BackupFailure {
  const status = signal ? `pg_dump was killed by ${signal}` : `pg_dump exited with code ${code}`;
  const errorLines = stderrTail.filter((line) => /error:|FATAL|DETAIL|HINT|could not|failed/i.test(line));
  const detail = (errorLines.length > 0 ? errorLines.slice(-4) : stderrTail.slice(-3)).join(' / ');
  const message = (detail ? `${status}: ${detail}` : status).slice(0, MAX_REASON);
  const text = stderrTail.join('\n');
  const details = { exitCode: code, signal, stderrTail };
  if (/server version mismatch/i.test(text)) return versionRefused(message, details);
  if (
    /password authentication failed|no password supplied|role "[^"]*" does not exist|database "[^"]*" does not exist|no pg_hba\.conf entry/i.test(
      text,
    )
  ) {
    return connectionFailed(message, false, details);
  }
  if (
    /connection to server .* failed|could not connect to|could not translate host name|timeout expired/i.test(text) &&
    !/dumping contents of table/.test(text)
  ) {
    return connectionFailed(message, true, details);
  }
  return dumpFailed(message, { retryable: true, detail: details });
}
