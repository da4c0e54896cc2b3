/**
 * Reads the head of a custom-format archive as pg_dump writes it on a pipe: the header and the complete
 * table of contents, which arrive before any row (pg_backup_custom.c `_CloseArchive`: WriteHead,
 * WriteToc, then the data blocks). Only what the planner needs is kept: the head's exact bytes and,
 * per entry, its id, descriptor, names, catalog oid, `COPY` statement and definition.
 *
 * Layout per pg_backup_archiver.c (ReadHead, ReadToc) and pg_backup_custom.c (_ReadExtraToc);
 * archive versions 1.14 to 1.16 only (pg_dump 12 to 18).
 */

/** One table-of-contents entry, as far as planning needs it. */
export interface HeadEntry {
  dumpId: number;
  /** The catalog oid (for TABLE DATA, the table's pg_class oid). */
  oid: number;
  tag: string;
  desc: string;
  defn: string | null;
  copyStmt: string | null;
  namespace: string | null;
  /** The custom format's data state: 1 has data at an unknown position, 2 position set, 3 no data. */
  dataState: number;
}

/** The parsed head. */
export interface PipeHead {
  /** Exactly the header and table of contents, as written. */
  bytes: Buffer;
  version: { major: number; minor: number; revision: number };
  intSize: number;
  offSize: number;
  /** 1.14: the zlib level (-1 default, 0 none); 1.15+: the algorithm byte (0 none, 1 gzip, 2 lz4, 3 zstd). */
  compression: { algorithm: 'none' | 'gzip' | 'lz4' | 'zstd' | 'unknown'; level: number | null };
  entries: HeadEntry[];
}

class NeedMore extends Error {}

/** Fails (not a NeedMore) on anything that is not an archive this reader knows. */
export class HeadUnreadable extends Error {}

const ALGORITHMS = ['none', 'gzip', 'lz4', 'zstd'] as const;

/**
 * Collects chunks until the head is complete; `push` returns the head once it is (and null before).
 * The bytes buffered are bounded by `maxBytes`: a head larger than that is refused.
 */
export class PipeHeadReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #needed = 0;
  readonly #maxBytes: number;

  constructor(maxBytes = 256 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): PipeHead | null {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < this.#needed) return null;
    if (this.#buffered > this.#maxBytes)
      throw new HeadUnreadable(`the table of contents is larger than ${this.#maxBytes} bytes`);
    const buffer = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [buffer];
    try {
      return parseHead(buffer);
    } catch (error) {
      if (!(error instanceof NeedMore)) throw error;
      // Parse again only once twice as much has arrived: quadratic re-parsing stays bounded.
      this.#needed = Math.max(this.#buffered + 64 * 1024, this.#buffered * 2);
      return null;
    }
  }
}

/** Parses the head at the start of `buffer`; throws NeedMore when the buffer ends inside it. */
export function parseHead(buffer: Buffer): PipeHead {
  const c = new Cursor(buffer);
  if (c.bytes(5).toString('latin1') !== 'PGDMP') throw new HeadUnreadable('not a custom-format archive');
  const major = c.byte();
  const minor = c.byte();
  const revision = c.byte();
  const version = (major * 256 + minor) * 256 + revision;
  if (major !== 1 || minor < 14 || minor > 16)
    throw new HeadUnreadable(`archive version ${major}.${minor}-${revision} is not one this reader knows`);
  c.intSize = c.byte();
  if (c.intSize < 1 || c.intSize > 8) throw new HeadUnreadable(`integer size ${c.intSize} is not plausible`);
  const offSize = c.byte();
  if (c.byte() !== 1) throw new HeadUnreadable('not a custom-format archive');
  let compression: PipeHead['compression'];
  if (version >= (1 * 256 + 15) * 256) {
    const algorithm = c.byte();
    compression = { algorithm: ALGORITHMS[algorithm] ?? 'unknown', level: null };
  } else {
    const level = c.int();
    compression = { algorithm: level === 0 ? 'none' : 'gzip', level: level === -1 ? 6 : level };
  }
  for (let i = 0; i < 7; i++) c.int();
  c.str(); // database name
  c.str(); // server version
  c.str(); // pg_dump version
  const count = c.int();
  if (count < 0) throw new HeadUnreadable('negative table-of-contents size');
  const entries: HeadEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = c.int();
    c.int(); // had a dumper
    c.str(); // table oid
    const oid = Number(c.str());
    const tag = c.str() ?? '';
    const desc = c.str() ?? '';
    c.int(); // section
    const defn = c.str();
    c.str(); // drop statement
    const copyStmt = c.str();
    const namespace = c.str();
    c.str(); // tablespace
    c.str(); // table access method
    if (minor >= 16) c.int(); // relkind
    c.str(); // owner
    c.str(); // "false"
    while (c.str() !== null); // dependencies
    const dataState = c.byte();
    c.bytes(offSize);
    entries.push({ dumpId, oid, tag, desc, defn, copyStmt, namespace, dataState });
  }
  return {
    bytes: Buffer.from(buffer.subarray(0, c.offset)),
    version: { major, minor, revision },
    intSize: c.intSize,
    offSize,
    compression,
    entries,
  };
}

class Cursor {
  readonly #buffer: Buffer;
  offset = 0;
  intSize = 4;

  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }

  byte(): number {
    if (this.offset + 1 > this.#buffer.length) throw new NeedMore();
    return this.#buffer[this.offset++]!;
  }

  bytes(length: number): Buffer {
    if (this.offset + length > this.#buffer.length) throw new NeedMore();
    const slice = this.#buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  int(): number {
    const negative = this.byte() !== 0;
    const bytes = this.bytes(this.intSize);
    let value = 0;
    for (let i = bytes.length - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
    return negative ? -value : value;
  }

  str(): string | null {
    const length = this.int();
    if (length < 0) return null;
    return this.bytes(length).toString('utf8');
  }
}
