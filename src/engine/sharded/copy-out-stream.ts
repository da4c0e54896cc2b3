import { Readable, type Duplex } from 'node:stream';
import type pg from 'pg';
import { freeBuffer } from '../../shared/free-buffer.ts';

/** Backend message types (protocol-message-formats): those met while a COPY TO STDOUT runs. */
const COPY_OUT_RESPONSE = 0x48; // 'H'
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const PARAMETER_STATUS = 0x53; // 'S'
const NOTICE_RESPONSE = 0x4e; // 'N'
const NOTIFICATION_RESPONSE = 0x41; // 'A'

/** Payloads shorter than this are copied byte by byte: cheaper than a native copy call for short rows. */
const SHORT_COPY = 32;
/**
 * The default buffer size. Larger is not cheaper: measured on a dump of 166 MB of COPY text, buffers of
 * 256 KiB or 1 MiB made V8 run a mark-compact about every 100 ms (2.5 ms of extra CPU per MB), while
 * with 32 to 128 KiB it ran one in all; 128 KiB is still one allocation per some 3,000 short rows.
 */
const DEFAULT_CHUNK_BYTES = 128 * 1024;

/** Where the parser stands: before a message's type byte, inside its length, inside its payload. */
const AT_TYPE = 0;
const IN_LENGTH = 1;
const IN_PAYLOAD = 2;

export interface CopyOutOptions {
  /** Bytes per pushed buffer; default 128 KiB. Rows are joined into buffers of this size. */
  chunkBytes?: number;
  /** The readable side's buffer; default `chunkBytes`: one full buffer waits while the next fills. */
  highWaterMark?: number;
}

/** The part of pg's Connection this stream uses (its socket, and CopyFail for a misdirected COPY FROM). */
interface PgConnection {
  stream: Duplex;
  query(text: string): void;
  sendCopyFail?(message: string): void;
}

type DataListener = (chunk: Buffer) => void;

/**
 * `COPY ... TO STDOUT` as a Readable of the server's bytes, for node-postgres (`client.query(stream)`).
 *
 * While the COPY runs it takes pg's place on the socket and parses the copy-out messages itself,
 * copying each CopyData payload straight into a buffer of `chunkBytes` and pushing only full buffers
 * (and the rest at CopyDone): one allocation per buffer, none per row, so a stream of short rows costs
 * the collector almost nothing. Backpressure reaches the server: while the reader is full the socket
 * is paused. At CopyDone, or at any message a COPY does not carry (ErrorResponse first of all), it
 * hands the socket and the unread bytes back to pg, which parses the rest: the CommandComplete
 * (whose row count becomes `rowCount`, after which the stream ends), or the server's error, which
 * pg passes to `handleError` and which destroys the stream with the server's message.
 *
 * Destroying the stream before the COPY finished closes the connection: a COPY OUT cannot be stopped
 * short on its own connection, only read to the end, and reading a whole table nobody wants helps
 * nobody. The client then reports its connection ended; it needs an 'error' listener, as always.
 */
export class CopyOutStream extends Readable {
  /** The statement, as pg's Submittable contract names it. */
  readonly text: string;
  /** Rows the server reported copying (its CommandComplete); null until then. */
  rowCount: number | null = null;

  readonly #chunkBytes: number;
  #connection: PgConnection | null = null;
  #socket: Duplex | null = null;
  #pgListener: DataListener | null = null;
  #attached = false;
  #socketPaused = false;
  #copyDone = false;
  #ended = false;

  #state = AT_TYPE;
  #type = 0;
  readonly #length = Buffer.alloc(4);
  #lengthHave = 0;
  #remaining = 0;

  #out: Buffer;
  #at = 0;

  /** Set when part of the chunk being parsed went to pg, which may keep it. */
  #handedOn = false;

  readonly #onData: DataListener = (chunk) => {
    this.#handedOn = false;
    this.#parse(chunk);
    // Every payload byte was copied out: the socket's buffer is garbage now, and freeing it at once
    // spares V8 a full collection for every few tens of MiB read (a dump reads the whole database).
    if (!this.#handedOn) freeBuffer(chunk);
  };

  constructor(text: string, options: CopyOutOptions = {}) {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new RangeError(`chunkBytes ${chunkBytes} is not valid`);
    super({ highWaterMark: options.highWaterMark ?? chunkBytes });
    this.text = text;
    this.#chunkBytes = chunkBytes;
    this.#out = Buffer.allocUnsafe(chunkBytes);
  }

  /** pg's Submittable: called when the query reaches the connection. */
  submit(connection: pg.Connection): Error | undefined {
    if (this.destroyed) return new Error('the COPY stream was destroyed before its statement was sent');
    const pgConnection = connection as unknown as PgConnection;
    const socket = pgConnection.stream;
    const listeners = socket.listeners('data');
    if (listeners.length !== 1) return new Error(`expected pg's one socket listener, found ${listeners.length}`);
    this.#connection = pgConnection;
    this.#socket = socket;
    this.#pgListener = listeners[0] as DataListener;
    socket.removeListener('data', this.#pgListener);
    socket.on('data', this.#onData);
    this.#attached = true;
    pgConnection.query(this.text);
    return undefined;
  }

  /** Parses what the socket delivered while the COPY runs; messages may split anywhere across chunks. */
  #parse(chunk: Buffer): void {
    const end = chunk.length;
    let at = 0;
    while (at < end && this.#attached) {
      if (this.#state === IN_PAYLOAD) {
        const take = Math.min(this.#remaining, end - at);
        if (this.#type === COPY_DATA) this.#take(chunk, at, take);
        at += take;
        this.#remaining -= take;
        if (this.#remaining > 0) return;
        this.#state = AT_TYPE;
        if (this.#type === COPY_DONE) return this.#finishCopy(chunk.subarray(at));
        continue;
      }
      if (this.#state === AT_TYPE) {
        // The common case: whole CopyData messages one after another inside this chunk.
        while (at + 5 <= end && chunk[at] === COPY_DATA) {
          const length =
            ((chunk[at + 1]! << 24) | (chunk[at + 2]! << 16) | (chunk[at + 3]! << 8) | chunk[at + 4]!) >>> 0;
          if (length < 4 || at + 1 + length > end) break;
          this.#take(chunk, at + 5, length - 4);
          at += 1 + length;
        }
        if (at === end) return;
        const type = chunk[at]!;
        if (!followsCopy(type)) return this.#handBack(chunk.subarray(at));
        this.#type = type;
        this.#state = IN_LENGTH;
        this.#lengthHave = 0;
        at += 1;
        continue;
      }
      while (this.#lengthHave < 4 && at < end) this.#length[this.#lengthHave++] = chunk[at++]!;
      if (this.#lengthHave < 4) return;
      const length = this.#length.readUInt32BE(0);
      if (length < 4) return this.#protocolError(`a message of type ${this.#type} claims length ${length}`);
      this.#remaining = length - 4;
      this.#state = IN_PAYLOAD;
      if (this.#remaining === 0) {
        this.#state = AT_TYPE;
        if (this.#type === COPY_DONE) return this.#finishCopy(chunk.subarray(at));
      }
    }
  }

  /** Appends `length` payload bytes from `source` at `from` to the output, pushing each buffer filled. */
  #take(source: Buffer, from: number, length: number): void {
    if (this.destroyed) return;
    while (length > 0) {
      const out = this.#out;
      const n = Math.min(length, out.length - this.#at);
      if (n < SHORT_COPY) {
        for (let i = 0; i < n; i++) out[this.#at + i] = source[from + i]!;
      } else {
        source.copy(out, this.#at, from, from + n);
      }
      this.#at += n;
      from += n;
      length -= n;
      if (this.#at === out.length) {
        this.#out = Buffer.allocUnsafe(this.#chunkBytes);
        this.#at = 0;
        this.#deliver(out);
      }
    }
  }

  #deliver(buffer: Buffer): void {
    if (!this.push(buffer) && this.#attached && !this.#socketPaused) {
      this.#socketPaused = true;
      this.#socket!.pause();
    }
  }

  override _read(): void {
    if (this.#socketPaused) {
      this.#socketPaused = false;
      this.#socket!.resume();
    }
  }

  /** CopyDone: the rest of the data goes out; the stream ends at CommandComplete, which pg parses. */
  #finishCopy(rest: Buffer): void {
    this.#copyDone = true;
    if (this.#at > 0 && !this.destroyed) this.#deliver(this.#out.subarray(0, this.#at));
    this.#out = Buffer.alloc(0);
    this.#at = 0;
    this.#handBack(rest);
  }

  /** Gives the socket back to pg, with the bytes it has not seen yet. */
  #handBack(rest: Buffer): void {
    const socket = this.#socket!;
    const pgListener = this.#pgListener!;
    const paused = this.#detach();
    if (rest.length > 0) {
      this.#handedOn = true;
      pgListener(rest);
    }
    // After `rest`: the socket's next chunks (resume delivers them on a later tick) follow it.
    if (paused) socket.resume();
  }

  /** Puts pg's listener back; says whether the socket was left paused for backpressure. */
  #detach(): boolean {
    const paused = this.#socketPaused;
    this.#attached = false;
    this.#socketPaused = false;
    this.#socket!.removeListener('data', this.#onData);
    this.#socket!.on('data', this.#pgListener!);
    return paused;
  }

  #protocolError(message: string): void {
    this.destroy(new Error(`COPY TO STDOUT: ${message}`));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#out = Buffer.alloc(0);
    this.#at = 0;
    if (this.#attached) {
      // The COPY is still running: closing the connection is the only way to stop it short.
      const socket = this.#socket!;
      this.#detach();
      socket.destroy();
    }
    callback(error);
  }

  /** pg: the server's CommandComplete. */
  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)$/.exec(message.text ?? '');
    if (this.destroyed) return;
    if (this.#copyDone && match) {
      this.rowCount = Number(match[1]);
      this.#ended = true;
      this.push(null);
    } else {
      this.destroy(new Error(`the statement did not run a COPY TO STDOUT (the server said ${message.text ?? ''})`));
    }
  }

  /** pg: the server's ErrorResponse for this statement, or the connection's end. */
  handleError(error: Error): void {
    this.destroy(error);
  }

  /** pg: the statement is over. Without a CommandComplete (an empty statement) it ran no COPY. */
  handleReadyForQuery(): void {
    if (!this.#ended) this.destroy(new Error('the statement did not run a COPY TO STDOUT'));
  }

  // What pg may pass on for a statement that is not a COPY TO STDOUT; CommandComplete then fails it.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
  handleCopyInResponse(): void {
    this.#connection?.sendCopyFail?.('big-backup reads COPY TO STDOUT only');
  }
}

/** Messages a COPY OUT carries (the asynchronous ones may come any time): everything else goes to pg. */
function followsCopy(type: number): boolean {
  return (
    type === COPY_DATA ||
    type === COPY_OUT_RESPONSE ||
    type === COPY_DONE ||
    type === PARAMETER_STATUS ||
    type === NOTICE_RESPONSE ||
    type === NOTIFICATION_RESPONSE
  );
}

/** `client.query(copyOut('COPY ... TO STDOUT'))`: see CopyOutStream. */
export function copyOut(text: string, options?: CopyOutOptions): CopyOutStream {
  return new CopyOutStream(text, options);
}
