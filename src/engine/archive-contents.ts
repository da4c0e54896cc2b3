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
  'DEFAULT',
]);

/** Most entries kept for one backup; a database with more objects shows the first ones and says so. */
export const MAX_CONTENTS_ENTRIES = 50_000;

/**
 * Reads `pg_restore --list` output (`215; 1259 16386 TABLE public customers owner`) into the objects
 * it names. Names holding spaces are kept whole; the owner (the last word, or nothing) is dropped.
 */
export function parseContents(listing: string): { entries: ContentsEntry[]; truncated: boolean } {
  const entries: ContentsEntry[] = [];
  const tablesWithData = new Set<string>();
  let truncated = false;
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
    const schema = namespace === '-' ? null : namespace;
    if (type === 'TABLE DATA') tablesWithData.add(`${schema}.${name}`);
    if (NOT_LISTED.has(type)) continue;
    if (entries.length >= MAX_CONTENTS_ENTRIES) {
      truncated = true;
      continue;
    }
    entries.push({ type, schema, name });
  }
  for (const entry of entries)
    if (entry.type === 'TABLE') entry.hasData = tablesWithData.has(`${entry.schema}.${entry.name}`);
  return { entries, truncated };
}
