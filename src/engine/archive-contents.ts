import { listingLine, type TocEntry } from './archive-toc.ts';

/** One object in an archive's table of contents, as the dashboard lists and searches it. */
export interface ContentsEntry {
  /** pg_dump's descriptor: TABLE, VIEW, INDEX, SCHEMA, EXTENSION, SEQUENCE, FUNCTION, … */
  type: string;
  /** Null for objects outside a schema (schemas, extensions, large objects). */
  schema: string | null;
  name: string;
  /** For tables: whether the archive holds their rows (a TABLE DATA entry). */
  hasData?: boolean;
}

// Descriptors of more than one word must be tried before their first word (TABLE DATA before TABLE).
const DESCRIPTORS = [
  'MATERIALIZED VIEW DATA',
  'MATERIALIZED VIEW',
  'TABLE DATA',
  'TABLE ATTACH',
  'SEQUENCE SET',
  'SEQUENCE OWNED BY',
  'FK CONSTRAINT',
  'DEFAULT ACL',
  'LARGE OBJECT',
  'BLOB METADATA',
  'BLOBS',
  'BLOB',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'FOREIGN TABLE',
  'EVENT TRIGGER',
  'SERVER',
  'USER MAPPING',
  'ACCESS METHOD',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'INDEX ATTACH',
  'ROW SECURITY',
  'PUBLICATION TABLE',
  'PUBLICATION',
  'SUBSCRIPTION',
  'STATISTICS',
  'POLICY',
  'PROCEDURE',
  'AGGREGATE',
  'COLLATION',
  'CONVERSION',
  'SCHEMA',
  'EXTENSION',
  'TABLE',
  'VIEW',
  'SEQUENCE',
  'INDEX',
  'FUNCTION',
  'TYPE',
  'DOMAIN',
  'TRIGGER',
  'CONSTRAINT',
  'RULE',
  'DEFAULT',
  'COMMENT',
  'ACL',
  'OPERATOR',
  'CAST',
  'ENCODING',
  'STDSTRINGS',
  'SEARCHPATH',
  'DATABASE',
].sort((a, b) => b.length - a.length);

// Entries that describe data, comments, grants or settings rather than an object someone looks for.
const NOT_LISTED = new Set([
  'TABLE DATA',
  'MATERIALIZED VIEW DATA',
  'SEQUENCE SET',
  'SEQUENCE OWNED BY',
  'COMMENT',
  'ACL',
  'DEFAULT ACL',
  'BLOBS',
  'BLOB METADATA',
  'ENCODING',
  'STDSTRINGS',
  'SEARCHPATH',
  'DATABASE',
  'DATABASE PROPERTIES',
  'STATISTICS DATA',
  'DEFAULT',
]);

/** Most entries kept for one backup; a database with more objects shows the first ones and says so. */
export const MAX_CONTENTS_ENTRIES = 50_000;

/** What verification records: the objects, and whether there were more than MAX_CONTENTS_ENTRIES. */
export interface ArchiveContents {
  entries: ContentsEntry[];
  truncated: boolean;
}

/**
 * The archive's contents from its own table of contents (read by ArchiveTocReader), where schema and
 * name are separate fields. They are used only once proven to be the entries pg_restore read: every
 * line of its `--list` output must be the line one of them prints. Otherwise (an archive version the
 * reader does not know, a table of contents it could not read) the listing is parsed instead, which
 * splits a schema name holding a space wrongly.
 */
export function archiveContents(toc: readonly TocEntry[] | null, listing: string): ArchiveContents {
  if (toc === null || !sameEntries(toc, listing)) return parseContents(listing);
  return collect(toc.map((e) => ({ type: e.desc, schema: e.namespace, name: e.tag })));
}

function sameEntries(toc: readonly TocEntry[], listing: string): boolean {
  const printed = new Set(toc.map(listingLine));
  const lines = listing.split('\n').filter((line) => /^\d+;/.test(line));
  return lines.length > 0 && lines.every((line) => printed.has(line));
}

/**
 * Reads `pg_restore --list` output (`215; 1259 16386 TABLE public customers owner`) into the objects
 * it names: the fallback of `archiveContents`. The schema is the first word and the owner the last, so
 * a name holding a space is kept whole only when it is the object's own name, not its schema's.
 */
export function parseContents(listing: string): ArchiveContents {
  const rows: Array<{ type: string; schema: string | null; name: string }> = [];
  for (const line of listing.split('\n')) {
    const match = /^\d+; \d+ \d+ (.+)$/.exec(line);
    if (!match) continue;
    const rest = match[1]!;
    const type = DESCRIPTORS.find((d) => rest.startsWith(d + ' '));
    if (!type) continue;
    const afterType = rest.slice(type.length + 1);
    const space = afterType.indexOf(' ');
    if (space < 0) continue;
    const namespace = afterType.slice(0, space);
    const tagAndOwner = afterType.slice(space + 1);
    const lastSpace = tagAndOwner.lastIndexOf(' ');
    const name = lastSpace < 0 ? tagAndOwner : tagAndOwner.slice(0, lastSpace);
    rows.push({ type, schema: namespace === '-' ? null : namespace, name });
  }
  return collect(rows);
}

/** Keeps the objects people look for (at most MAX_CONTENTS_ENTRIES) and marks the tables whose rows are in the archive. */
function collect(rows: Iterable<{ type: string; schema: string | null; name: string }>): ArchiveContents {
  const entries: ContentsEntry[] = [];
  const tablesWithData = new Set<string>();
  // Schema and name as a pair: joined with a dot, "a"."b.c" and "a.b"."c" would be one key.
  const key = (schema: string | null, name: string) => JSON.stringify([schema, name]);
  let truncated = false;
  for (const { type, schema, name } of rows) {
    if (type === 'TABLE DATA') tablesWithData.add(key(schema, name));
    if (NOT_LISTED.has(type)) continue;
    if (entries.length >= MAX_CONTENTS_ENTRIES) {
      truncated = true;
      continue;
    }
    entries.push({ type, schema, name });
  }
  for (const entry of entries)
    if (entry.type === 'TABLE') entry.hasData = tablesWithData.has(key(entry.schema, entry.name));
  return { entries, truncated };
}
