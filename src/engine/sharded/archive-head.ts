/**
 * The head of a custom-format archive (`pg_dump -Fc`): its header and complete table of contents,
 * every field of every entry, read and written back byte for byte (pg_backup_archiver.c: ReadHead,
 * WriteHead, ReadToc, WriteToc; pg_backup_custom.c: _ReadExtraToc, _WriteExtraToc).
 *
 * pg_dump writing to a pipe sends the whole head first, every data entry's offset "not set", then the
 * data blocks; the sharded capture reads that head (ArchiveHeadReader says where it ends, so the
 * caller can stop pg_dump there) and, once every data block's place is known, writes it again with
 * real offsets (writeArchiveHead). An offset is always a state byte and `offSize` bytes, so the head's
 * length never depends on the offsets written into it.
 *
 * Strings are kept as pg_dump wrote them: decoded as UTF-8 when every string of the entry is valid
 * UTF-8, else as latin1 (one character per byte), so writing them back gives the same bytes.
 */
import { archiveVersion, ArchiveWriter, Cursor, NeedMore, Unreadable } from '../archive-primitives.ts';

export const MAGIC = 'PGDMP';
const FORMAT_CUSTOM = 1;
const OLDEST = archiveVersion(1, 14, 0);
const NEWEST = archiveVersion(1, 16, 0);
/** A head larger than this is refused (a damaged length must not make us buffer a whole dump). */
const MAX_HEAD_BYTES = 1024 * 1024 * 1024;

/** The offset states of _WriteExtraToc (K_OFFSET_*). */
export const OFFSET_NOT_SET = 1;
export const OFFSET_SET = 2;
export const OFFSET_NO_DATA = 3;

export type TextEncoding = 'utf8' | 'latin1';

export interface ArchiveHeader {
  /** `major.minor` as pg_restore names it without the revision, e.g. `1.14`. */
  version: string;
  versionMajor: number;
  versionMinor: number;
  versionRevision: number;
  intSize: number;
  offSize: number;
  format: number;
  /**
   * The header's compression field as written: archive 1.14 an integer gzip level (-1 = zlib's
   * default, 0 = none), 1.15+ an algorithm byte (0 none, 1 gzip, 2 lz4, 3 zstd).
   */
  compressionField: number;
  /** Creation time as pg_dump wrote it: sec, min, hour, mday, mon, year, isdst. */
  createdAt: number[];
  databaseName: string | null;
  serverVersion: string | null;
  pgDumpVersion: string | null;
  textEncoding: TextEncoding;
}

export interface HeadEntry {
  dumpId: number;
  hadDumper: number;
  /** As written (strings of digits). */
  tableOid: string | null;
  oid: string | null;
  tag: string | null;
  desc: string | null;
  section: number;
  defn: string | null;
  dropStmt: string | null;
  copyStmt: string | null;
  namespace: string | null;
  tablespace: string | null;
  tableam: string | null;
  /** Archive 1.16 and later; null before. */
  relkind: number | null;
  owner: string | null;
  /** The obsolete "with oids" field, always `false`. */
  withOids: string | null;
  deps: string[];
  /** OFFSET_NOT_SET, OFFSET_SET or OFFSET_NO_DATA, and the offset (0 unless set). */
  dataState: number;
  dataOffset: number;
  textEncoding: TextEncoding;
}

export interface ArchiveHead {
  header: ArchiveHeader;
  entries: HeadEntry[];
  /** How many bytes of the archive the head took: its data blocks start here. */
  bytes: number;
}

/** A data entry: one data block in the archive. */
export interface DataEntry {
  dumpId: number;
  kind: 'table' | 'large_objects';
  /** The table's pg_class oid for table data; the entry's catalog oid otherwise. */
  oid: number;
  namespace: string | null;
  tag: string | null;
  copyStmt: string | null;
}

/** The compression of the archive's data blocks. */
export type ArchiveCompression =
  | { algorithm: 'none' }
  /** Level -1 is zlib's default (6); null when the archive does not record it (1.15 and later). */
  | { algorithm: 'gzip'; level: number | null }
  | { algorithm: 'lz4' | 'zstd' | 'unknown'; code: number };

/** Thrown for bytes that are not a custom-format head this code reads. */
export class ArchiveHeadError extends Error {}

/**
 * Reads a head from the archive's first bytes as they arrive. `push` returns the head once it is
 * complete (then `rest` holds the bytes after it that were pushed already), null while it needs more.
 */
export class ArchiveHeadReader {
  #buffer = Buffer.alloc(64 * 1024);
  #length = 0;
  #header: ArchiveHeader | undefined;
  #tocCount = 0;
  #entries: HeadEntry[] = [];
  /** Where the next entry starts in the buffer. */
  #offset = 0;
  #needed = 0;
  #head: ArchiveHead | undefined;

  push(chunk: Buffer): ArchiveHead | null {
    if (this.#head) return this.#head;
    this.#append(chunk);
    if (this.#length < this.#needed) return null;
    const view = this.#buffer.subarray(0, this.#length);
    try {
      if (!this.#header) {
        const c = new Cursor(view, 0, 4);
        const header = readHeader(c);
        const tocCount = c.int();
        if (tocCount < 0) throw new Unreadable('negative table-of-contents size');
        this.#header = header;
        this.#tocCount = tocCount;
        this.#offset = c.offset;
      }
      while (this.#entries.length < this.#tocCount) {
        const c = new Cursor(view, this.#offset, this.#header.intSize);
        this.#entries.push(readEntry(c, this.#header));
        this.#offset = c.offset;
      }
    } catch (error) {
      if (error instanceof NeedMore) {
        this.#needed = this.#offset + error.bytes;
        if (this.#needed > MAX_HEAD_BYTES)
          throw new ArchiveHeadError(`the archive's head would be larger than ${MAX_HEAD_BYTES} bytes`);
        return null;
      }
      throw new ArchiveHeadError((error as Error).message);
    }
    this.#head = { header: this.#header, entries: this.#entries, bytes: this.#offset };
    return this.#head;
  }

  /** Bytes pushed after the head (the start of the first data block); empty until the head is complete. */
  get rest(): Buffer {
    return this.#head ? Buffer.from(this.#buffer.subarray(this.#head.bytes, this.#length)) : Buffer.alloc(0);
  }

  /** Bytes pushed so far. */
  get bytesRead(): number {
    return this.#length;
  }

  #append(chunk: Buffer): void {
    if (this.#length + chunk.length > this.#buffer.length) {
      const grown = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#length + chunk.length));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    chunk.copy(this.#buffer, this.#length);
    this.#length += chunk.length;
  }
}

/** Parses a complete head from a buffer holding at least all of it. */
export function parseArchiveHead(buffer: Buffer): ArchiveHead {
  const head = new ArchiveHeadReader().push(buffer);
  if (!head) throw new ArchiveHeadError('the archive ends inside its table of contents');
  return head;
}

function readHeader(c: Cursor): ArchiveHeader {
  if (c.bytes(5).toString('latin1') !== MAGIC) throw new Unreadable('not a custom-format archive');
  const versionMajor = c.byte();
  const versionMinor = c.byte();
  const versionRevision = c.byte();
  const version = archiveVersion(versionMajor, versionMinor, versionRevision);
  if (version < OLDEST || version > NEWEST)
    throw new Unreadable(`archive version ${versionMajor}.${versionMinor}-${versionRevision} is not one this reads`);
  const intSize = c.byte();
  if (intSize < 1 || intSize > 8) throw new Unreadable(`integer size ${intSize} is not plausible`);
  c.intSize = intSize;
  const offSize = c.byte();
  if (offSize < 1 || offSize > 8) throw new Unreadable(`offset size ${offSize} is not plausible`);
  const format = c.byte();
  if (format !== FORMAT_CUSTOM) throw new Unreadable('not a custom-format archive');
  const compressionField = version >= archiveVersion(1, 15, 0) ? c.byte() : c.int();
  const createdAt: number[] = [];
  for (let i = 0; i < 7; i++) createdAt.push(c.int());
  const strings = [c.rawStr(), c.rawStr(), c.rawStr()];
  const textEncoding = encodingOf(strings);
  const [databaseName, serverVersion, pgDumpVersion] = strings.map((s) => decode(s, textEncoding));
  return {
    version: `${versionMajor}.${versionMinor}`,
    versionMajor,
    versionMinor,
    versionRevision,
    intSize,
    offSize,
    format,
    compressionField,
    createdAt,
    databaseName: databaseName ?? null,
    serverVersion: serverVersion ?? null,
    pgDumpVersion: pgDumpVersion ?? null,
    textEncoding,
  };
}

function versionOf(h: ArchiveHeader): number {
  return archiveVersion(h.versionMajor, h.versionMinor, h.versionRevision);
}

function readEntry(c: Cursor, h: ArchiveHeader): HeadEntry {
  const dumpId = c.int();
  if (dumpId <= 0) throw new Unreadable(`entry id ${dumpId} is out of range`);
  const hadDumper = c.int();
  const tableOid = c.rawStr();
  const oid = c.rawStr();
  const tag = c.rawStr();
  const desc = c.rawStr();
  const section = c.int();
  const defn = c.rawStr();
  const dropStmt = c.rawStr();
  const copyStmt = c.rawStr();
  const namespace = c.rawStr();
  const tablespace = c.rawStr();
  const tableam = c.rawStr();
  const relkind = versionOf(h) >= archiveVersion(1, 16, 0) ? c.int() : null;
  const owner = c.rawStr();
  const withOids = c.rawStr();
  const deps: Buffer[] = [];
  for (let dep = c.rawStr(); dep !== null; dep = c.rawStr()) deps.push(dep);
  const { state, offset } = c.offset8(h.offSize);
  const strings = [tableOid, oid, tag, desc, defn, dropStmt, copyStmt, namespace, tablespace, tableam, owner, withOids];
  const e = encodingOf([...strings, ...deps]);
  return {
    dumpId,
    hadDumper,
    tableOid: decode(tableOid, e),
    oid: decode(oid, e),
    tag: decode(tag, e),
    desc: decode(desc, e),
    section,
    defn: decode(defn, e),
    dropStmt: decode(dropStmt, e),
    copyStmt: decode(copyStmt, e),
    namespace: decode(namespace, e),
    tablespace: decode(tablespace, e),
    tableam: decode(tableam, e),
    relkind,
    owner: decode(owner, e),
    withOids: decode(withOids, e),
    deps: deps.map((d) => d.toString(e)),
    dataState: state,
    dataOffset: offset,
    textEncoding: e,
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function encodingOf(strings: (Buffer | null)[]): TextEncoding {
  try {
    for (const s of strings) if (s !== null) strictUtf8.decode(s);
    return 'utf8';
  } catch {
    return 'latin1';
  }
}

function decode(bytes: Buffer | null, encoding: TextEncoding): string | null {
  return bytes === null ? null : bytes.toString(encoding);
}

/**
 * Writes the head again: the same bytes as read, except that each data entry whose dumpId is in
 * `offsets` gets state "set" and that offset. Entries without data are written as pg_dump writes
 * them (state "no data", offset 0). The length does not depend on the offsets.
 */
export function writeArchiveHead(head: ArchiveHead, offsets: ReadonlyMap<number, number> = new Map()): Buffer {
  const h = head.header;
  const w = new ArchiveWriter(h.intSize);
  const text = (s: string | null, e: TextEncoding) => w.str(s === null ? null : Buffer.from(s, e));
  w.raw(Buffer.from(MAGIC, 'latin1'));
  w.raw(Buffer.of(h.versionMajor, h.versionMinor, h.versionRevision, h.intSize, h.offSize, h.format));
  if (versionOf(h) >= archiveVersion(1, 15, 0)) w.byte(h.compressionField);
  else w.int(h.compressionField);
  for (const value of h.createdAt) w.int(value);
  for (const s of [h.databaseName, h.serverVersion, h.pgDumpVersion]) text(s, h.textEncoding);
  w.int(head.entries.length);
  for (const entry of head.entries) {
    const e = entry.textEncoding;
    w.int(entry.dumpId);
    w.int(entry.hadDumper);
    for (const s of [entry.tableOid, entry.oid, entry.tag, entry.desc]) text(s, e);
    w.int(entry.section);
    for (const s of [entry.defn, entry.dropStmt, entry.copyStmt, entry.namespace, entry.tablespace, entry.tableam])
      text(s, e);
    if (versionOf(h) >= archiveVersion(1, 16, 0)) w.int(entry.relkind ?? 0);
    text(entry.owner, e);
    text(entry.withOids, e);
    for (const dep of entry.deps) text(dep, e);
    w.str(null);
    const offset = offsets.get(entry.dumpId);
    if (entry.dataState === OFFSET_NO_DATA) w.offset(OFFSET_NO_DATA, 0, h.offSize);
    else if (offset !== undefined) {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new ArchiveHeadError(`offset ${offset} is not valid`);
      w.offset(OFFSET_SET, offset, h.offSize);
    } else w.offset(entry.dataState, entry.dataOffset, h.offSize);
  }
  for (const dumpId of offsets.keys()) {
    const entry = head.entries.find((candidate) => candidate.dumpId === dumpId);
    if (!entry || entry.dataState === OFFSET_NO_DATA)
      throw new ArchiveHeadError(`entry ${dumpId} has no data block to point at`);
  }
  return w.toBuffer();
}

/** The entries with a data block (TABLE DATA and BLOBS), in table-of-contents order. */
export function dataEntries(head: ArchiveHead): DataEntry[] {
  const found: DataEntry[] = [];
  for (const entry of head.entries) {
    if (entry.dataState === OFFSET_NO_DATA) continue;
    const kind = entry.desc === 'TABLE DATA' ? 'table' : entry.desc === 'BLOBS' ? 'large_objects' : null;
    if (kind === null) throw new ArchiveHeadError(`entry ${entry.dumpId} (${entry.desc}) has data of a kind not known`);
    found.push({
      dumpId: entry.dumpId,
      kind,
      oid: Number(entry.oid),
      namespace: entry.namespace === '' ? null : entry.namespace,
      tag: entry.tag,
      copyStmt: entry.copyStmt,
    });
  }
  return found;
}

/** The dump's client encoding, from the ENCODING entry (`SET client_encoding = 'UTF8';`). */
export function archiveEncoding(head: ArchiveHead): string {
  const entry = head.entries.find((e) => e.desc === 'ENCODING');
  const value = /'([^']*)'/.exec(entry?.defn ?? '')?.[1];
  if (value === undefined) throw new ArchiveHeadError('the archive has no ENCODING entry');
  return value;
}

/** The compression of the data blocks, from the header. */
export function archiveCompression(head: ArchiveHead): ArchiveCompression {
  const h = head.header;
  const field = h.compressionField;
  if (versionOf(h) < archiveVersion(1, 15, 0))
    return field === 0 ? { algorithm: 'none' } : { algorithm: 'gzip', level: field };
  if (field === 0) return { algorithm: 'none' };
  if (field === 1) return { algorithm: 'gzip', level: null };
  return { algorithm: field === 2 ? 'lz4' : field === 3 ? 'zstd' : 'unknown', code: field };
}
