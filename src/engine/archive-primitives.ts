/**
 * The custom archive format's primitives (pg_backup_archiver.c: ReadInt, ReadStr, ReadOffset and
 * their Write twins), shared by the table-of-contents reader (archive-toc.ts) and the full head
 * parser and writer of the sharded capture (sharded/archive-head.ts).
 */

/** An archive version as one comparable number, like pg_dump's MAKE_ARCHIVE_VERSION. */
export function archiveVersion(major: number, minor: number, revision: number): number {
  return (major * 256 + minor) * 256 + revision;
}

/** Thrown inside a parse attempt when the buffered bytes end before it does. */
export class NeedMore extends Error {
  readonly bytes: number;
  constructor(bytes: number) {
    super(`${bytes} bytes are needed`);
    this.bytes = bytes;
  }
}

/** The bytes are not an archive this code can read. */
export class Unreadable extends Error {}

/** Reads an entry or the header from a buffer; throws NeedMore when the buffer ends first. */
export class Cursor {
  readonly #buffer: Buffer;
  offset: number;
  intSize: number;
  /** Where this parse attempt started: NeedMore counts from here. */
  readonly #start: number;

  constructor(buffer: Buffer, offset: number, intSize: number) {
    this.#buffer = buffer;
    this.offset = offset;
    this.#start = offset;
    this.intSize = intSize;
  }

  #need(bytes: number): void {
    if (this.offset + bytes > this.#buffer.length) throw new NeedMore(this.offset + bytes - this.#start);
  }

  byte(): number {
    this.#need(1);
    return this.#buffer[this.offset++]!;
  }

  bytes(length: number): Buffer {
    this.#need(length);
    const slice = this.#buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  /** WriteInt: a sign byte, then `intSize` bytes, least significant first. */
  int(): number {
    const negative = this.byte() !== 0;
    const bytes = this.bytes(this.intSize);
    let value = 0;
    for (let i = bytes.length - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
    if (!Number.isSafeInteger(value)) throw new Unreadable('an integer in the table of contents is out of range');
    return negative ? -value : value;
  }

  /** WriteStr: a length (-1 for no string), then that many bytes. */
  str(): string | null {
    const raw = this.rawStr();
    return raw === null ? null : raw.toString('utf8');
  }

  /** A string's bytes as written (a view of the buffer), or null. */
  rawStr(): Buffer | null {
    const length = this.int();
    if (length < 0) return null;
    return this.bytes(length);
  }

  skipStr(): void {
    const length = this.int();
    if (length > 0) this.bytes(length);
  }

  /** WriteOffset: a state byte, then `offSize` bytes, least significant first. */
  offset8(offSize: number): { state: number; offset: number } {
    const state = this.byte();
    const bytes = this.bytes(offSize);
    let offset = 0;
    for (let i = bytes.length - 1; i >= 0; i--) offset = offset * 256 + bytes[i]!;
    if (!Number.isSafeInteger(offset)) throw new Unreadable('a data offset in the table of contents is out of range');
    return { state, offset };
  }
}

/** Appends archive primitives to a growing list of buffers (the Write side of Cursor). */
export class ArchiveWriter {
  readonly #parts: Buffer[] = [];
  #length = 0;
  readonly intSize: number;

  constructor(intSize: number) {
    this.intSize = intSize;
  }

  get length(): number {
    return this.#length;
  }

  raw(bytes: Buffer): void {
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }

  byte(value: number): void {
    this.raw(Buffer.of(value));
  }

  int(value: number): void {
    const out = Buffer.alloc(1 + this.intSize);
    out[0] = value < 0 ? 1 : 0;
    let rest = Math.abs(value);
    for (let i = 1; i <= this.intSize; i++) {
      out[i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    this.raw(out);
  }

  str(bytes: Buffer | null): void {
    if (bytes === null) return this.int(-1);
    this.int(bytes.length);
    this.raw(bytes);
  }

  offset(state: number, offset: number, offSize: number): void {
    const out = Buffer.alloc(1 + offSize);
    out[0] = state;
    let rest = offset;
    for (let i = 1; i <= offSize; i++) {
      out[i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    this.raw(out);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts, this.#length);
  }
}
