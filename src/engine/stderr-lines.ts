import { StringDecoder } from 'node:string_decoder';

/** Splits a byte stream into lines without ever holding more than one (capped) line. */
export interface LineSplitter {
  push(chunk: Buffer): void;
  /** Delivers a final unterminated line, if any. */
  end(): void;
}

const MAX_LINE = 8 * 1024;

/** Calls `onLine` for each `\n`- or `\r`-terminated line, cut to `maxLine` characters. */
export function createLineSplitter(onLine: (line: string) => void, maxLine = MAX_LINE): LineSplitter {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let skipping = false; // inside an over-long line whose head was already delivered
  const take = (text: string) => {
    let start = 0;
    for (;;) {
      const index = text.slice(start).search(/[\r\n]/);
      if (index < 0) break;
      const line = pending + text.slice(start, start + index);
      pending = '';
      if (!skipping && line.length > 0) onLine(line.slice(0, maxLine));
      skipping = false;
      start += index + 1;
    }
    pending += text.slice(start);
    if (pending.length > maxLine) {
      if (!skipping) onLine(pending.slice(0, maxLine));
      skipping = true;
      pending = '';
    }
  };
  return {
    push(chunk) {
      take(decoder.write(chunk));
    },
    end() {
      take(decoder.end());
      if (pending.length > 0 && !skipping) onLine(pending);
      pending = '';
    },
  };
}

/** What a `--verbose` line says pg_dump is doing now. */
export type VerboseEvent = { kind: 'table'; table: string } | { kind: 'large-objects' };

/**
 * Parses pg_dump's `--verbose` progress lines (LC_ALL=C): `pg_dump: dumping contents of table "public.t"`
 * and `pg_dump: saving large objects` (17 adds a range, e.g. `saving large objects "1000-1999"`).
 */
export function parseVerboseLine(line: string): VerboseEvent | undefined {
  const table = /^pg_dump: dumping contents of table "(.*)"$/.exec(line);
  if (table?.[1] !== undefined) return { kind: 'table', table: table[1] };
  if (/^pg_dump: saving large objects\b/.test(line)) return { kind: 'large-objects' };
  return undefined;
}
