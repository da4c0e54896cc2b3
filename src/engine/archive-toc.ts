/**
 * Reads the table of contents of a custom-format (`pg_dump -Fc`) archive from its own bytes, as
 * pg_restore does (pg_backup_archiver.c: ReadHead, ReadToc; pg_backup_custom.c: _ReadExtraToc), so
 * each entry's schema and name come as the separate fields pg_dump wrote. `pg_restore --list` prints
 * them joined by spaces without quoting, which cannot be split back when a name holds a space.
 *
 * The reader takes the archive in chunks as it streams by and keeps only the unread rest of the
 * current entry; it stops looking once the table of contents is read (the data follows it). It only
 * reads archive versions it knows the layout of: for any other (a newer pg_dump), `entries()` is null
 * and callers fall back to the printed listing.
 */

import { archiveVersion as version, Cursor, NeedMore, Unreadable } from './archive-primitives.ts';

/** One table-of-contents entry: the fields the dashboard and the cross-check with the listing need. */
export interface TocEntry {
  dumpId: number;
  tableOid: number;
  oid: number;
  /** pg_dump's descriptor: TABLE, TABLE DATA, SCHEMA, … */
  desc: string;
  /** Null for objects outside a schema. */
  namespace: string | null;
  tag: string;
  owner: string | null;
}

const MAGIC = 'PGDMP';
const FORMAT_CUSTOM = 1;
/** The newest archive version whose layout this reader knows: 1.16 (pg_dump 17 and 18). */
const NEWEST_KNOWN = version(1, 16, 0);
/**
 * The oldest it reads: 1.14 (pg_dump 12), the first with the table access method field every entry
 * here is read with; every supported server major's pg_dump writes 1.14 or newer.
 */
const OLDEST_KNOWN = version(1, 14, 0);

/** Larger entries (a definition of tens of MiB) are not buffered: the listing is used instead. */
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

interface Header {
  version: number;
  intSize: number;
  offSize: number;
  tocCount: number;
}

export class ArchiveTocReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes the next parse attempt needs buffered at least (so a long entry is not re-parsed per chunk). */
  #needed = 0;
  #header: Header | undefined;
  #entries: TocEntry[] = [];
  #state: 'reading' | 'done' | 'unreadable' = 'reading';
  #problem: string | undefined;

  /** Feeds the next bytes of the archive; bytes after the table of contents are ignored. */
  push(chunk: Buffer): void {
    if (this.#state !== 'reading') return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < this.#needed) return;
    const buffer = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    // Where the first entry not read yet starts: what is kept when the buffer ends inside it.
    let offset = 0;
    try {
      if (!this.#header) {
        const cursor = new Cursor(buffer, 0, 4);
        this.#header = readHeader(cursor);
        offset = cursor.offset;
      }
      const header = this.#header;
      while (this.#entries.length < header.tocCount) {
        const cursor = new Cursor(buffer, offset, header.intSize);
        this.#entries.push(readEntry(cursor, header));
        offset = cursor.offset;
      }
      this.#state = 'done';
      this.#chunks = [];
      this.#buffered = 0;
    } catch (error) {
      if (!(error instanceof NeedMore)) return this.#giveUp((error as Error).message);
      // A length read from a damaged (or misread) archive could ask to buffer the whole dump.
      if (error.bytes > MAX_ENTRY_BYTES)
        return this.#giveUp(`an entry of the table of contents is larger than ${MAX_ENTRY_BYTES} bytes`);
      // A copy: the caller may free its chunk once it has been passed on (see free-buffer.ts).
      const rest = Buffer.from(buffer.subarray(offset));
      this.#chunks = [rest];
      this.#buffered = rest.length;
      this.#needed = error.bytes;
    }
  }

  #giveUp(problem: string): void {
    this.#state = 'unreadable';
    this.#problem = problem;
    this.#chunks = [];
    this.#buffered = 0;
  }

  /** The entries, once the whole table of contents was read; null before that or when it cannot be read. */
  entries(): TocEntry[] | null {
    return this.#state === 'done' ? this.#entries : null;
  }

  /** Why `entries()` is null, for a log line. */
  get problem(): string {
    if (this.#state === 'unreadable') return this.#problem ?? 'unreadable';
    return this.#state === 'reading' ? 'the archive ended inside its table of contents' : '';
  }
}

function readHeader(c: Cursor): Header {
  if (c.bytes(5).toString('latin1') !== MAGIC) throw new Unreadable('not a custom-format archive');
  const major = c.byte();
  const minor = c.byte();
  const revision = c.byte();
  const archiveVersion = version(major, minor, revision);
  if (archiveVersion < OLDEST_KNOWN || archiveVersion > NEWEST_KNOWN)
    throw new Unreadable(`archive version ${major}.${minor}-${revision} is not one this reader knows`);
  const intSize = c.byte();
  if (intSize < 1 || intSize > 8) throw new Unreadable(`integer size ${intSize} is not plausible`);
  c.intSize = intSize;
  const offSize = c.byte();
  if (c.byte() !== FORMAT_CUSTOM) throw new Unreadable('not a custom-format archive');
  if (archiveVersion >= version(1, 15, 0))
    c.byte(); // compression algorithm
  else c.int(); // compression level
  for (let i = 0; i < 7; i++) c.int(); // creation time: sec, min, hour, mday, mon, year, isdst
  c.skipStr(); // database name
  c.skipStr(); // server version
  c.skipStr(); // pg_dump version
  const tocCount = c.int();
  if (tocCount < 0) throw new Unreadable('negative table-of-contents size');
  return { version: archiveVersion, intSize, offSize, tocCount };
}

function readEntry(c: Cursor, header: Header): TocEntry {
  const dumpId = c.int();
  if (dumpId <= 0) throw new Unreadable(`entry id ${dumpId} is out of range`);
  c.int(); // had a data dumper
  const tableOid = Number(c.str());
  const oid = Number(c.str());
  const tag = c.str() ?? '';
  const desc = c.str() ?? '';
  c.int(); // section
  c.skipStr(); // definition
  c.skipStr(); // drop statement
  c.skipStr(); // copy statement
  const namespace = c.str();
  c.skipStr(); // tablespace
  c.skipStr(); // table access method (1.14 and later; every version read here is)
  if (header.version >= version(1, 16, 0)) c.int(); // relkind
  const owner = c.str();
  c.skipStr(); // "with oids", always false now
  while (c.str() !== null); // dependencies, ended by a null string
  // The custom format's own part: where the entry's data is (a flag byte and offSize bytes).
  c.bytes(1 + header.offSize);
  return { dumpId, tableOid, oid, desc, namespace: namespace === '' ? null : namespace, tag, owner };
}

/**
 * The line `pg_restore --list` prints for an entry (its PrintTOCSummary): used to prove the entries
 * read here are the ones pg_restore read, before their fields are trusted.
 */
export function listingLine(entry: TocEntry): string {
  // sanitize_line: line breaks become spaces; a missing schema prints as "-", a missing tag or owner as nothing.
  const clean = (s: string | null, hyphen: boolean) =>
    s === null || s === '' ? (hyphen ? '-' : '') : s.replace(/[\r\n]/g, ' ');
  return `${entry.dumpId}; ${entry.tableOid} ${entry.oid} ${entry.desc} ${clean(entry.namespace, true)} ${clean(entry.tag, false)} ${clean(entry.owner, false)}`;
}
