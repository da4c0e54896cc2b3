import { once } from 'node:events';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { ObjectStore } from '../../storage/object-store.ts';
import { isBackupFailure } from '../../shared/backup-failure.ts';
import { redact } from '../../shared/redact.ts';
import type { HostPolicy } from '../../net/host-guard.ts';
import { canceled, dumpFailed } from '../dump-failures.ts';
import { createGarbagePacer } from '../garbage-pacer.ts';
import type { BackupSource } from '../source.ts';
import { singleBinaryValue } from './binary-copy.ts';
import { copyOut } from './copy-out-stream.ts';
import { pieceQuery } from './copy-statement.ts';
import { openPieceSession, renewPieceTransaction, type PieceSession } from './piece-session.ts';
import { createLargeObjectDeflate, createPieceDeflate, type PieceDeflate } from './piece-deflate.ts';
import type { PieceResult, PlannedPiece, ShardPlan } from './types.ts';

/** Options of `dumpPiece`. */
export interface DumpPieceOptions {
  /** Where to connect when no `session` is given. */
  source?: BackupSource;
  plan: ShardPlan;
  piece: PlannedPiece;
  store: ObjectStore;
  /** Where the piece's object goes. */
  key: string;
  signal?: AbortSignal;
  hosts?: HostPolicy;
  /** About once a second and at the end: uncompressed bytes read, compressed bytes handed to storage. */
  onProgress?(progress: { rawBytes: number; bytes: number }): void;
  /** Kept with the object (and in its manifest, with `raw-bytes` and `adler32` added once known). */
  metadata?: Record<string, string>;
  /**
   * A session to dump on (openPieceSession, for the same source and plan), kept open when the piece
   * succeeds and closed when it fails while still using it; without one the piece opens and closes
   * its own.
   */
  session?: PieceSession;
  /**
   * Called once the piece no longer uses its session (the COPY, or the last large object, is read to
   * its end), before storage proved the piece: a lent session may then serve another piece, and this
   * one's failure from here on (storage's) leaves it open.
   */
  onSourceReleased?(): void;
}

/** Large objects are read in slices of this size, so one huge object never sits in memory whole. */
const LARGE_OBJECT_SLICE = 1024 * 1024;
/** Large objects listed per query. */
const LARGE_OBJECT_BATCH = 1000;
const PROGRESS_INTERVAL_MS = 1000;

/**
 * One pacer for every piece of this process (see garbage-pacer.ts): pieces run side by side and one
 * after another, each allocating socket reads, zlib output and chunk frames that V8 would otherwise
 * collect only once external memory grew about 64 MiB.
 */
const pace = createGarbagePacer();

/** A piece's name in messages: `piece 3 (public.big, part 2 of 4)`. */
export function describePiece(piece: PlannedPiece): string {
  if (piece.kind === 'large_objects') return `piece ${piece.no} (large objects)`;
  const part = piece.parts > 1 ? `, part ${piece.part + 1} of ${piece.parts}` : '';
  return `piece ${piece.no} (${piece.schema === null ? '' : `${piece.schema}.`}${piece.table ?? ''}${part})`;
}

/**
 * Dumps one piece into storage: on the session given, or one of its own (piece-session.ts: connected
 * as pg_dump would, in pg_dump's session state), copies the piece's rows
 * (or large objects) through the piece compressor into `store.upload`. Resolves only once storage has
 * proven the object (size and SHA-256); on any failure storage removes what it wrote and this rejects
 * naming the piece. Memory stays flat: rows stream with backpressure from storage back to the server.
 */
export async function dumpPiece(options: DumpPieceOptions): Promise<PieceResult> {
  const { piece, plan, signal } = options;
  const startedAt = Date.now();
  let session = options.session ?? null;
  let secrets: readonly string[] = session?.secrets ?? [];
  // Closing the connection ends the COPY on the server too; the upload sees the signal itself.
  const onAbort = () => {
    if (!released || session !== options.session) void session?.close();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let failed = true;
  let released = false;
  try {
    if (signal?.aborted) throw canceled();
    if (session?.closed) throw new Error('the source session given for the piece is closed');
    if (!session && !options.source) throw new Error('a piece needs a session or a source to open one on');
    session ??= await openPieceSession({
      source: options.source!,
      plan,
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(signal ? { signal } : {}),
    });
    secrets = session.secrets;
    if (session.pieces > 0) await renewPieceTransaction(session);
    session.pieces += 1;
    const { client } = session;
    const produced =
      piece.kind === 'large_objects'
        ? startLargeObjects(client, plan.compressionLevel)
        : startTable(client, piece, plan);
    produced.done.then(
      () => {
        released = true;
        options.onSourceReleased?.();
      },
      () => {},
    );
    const metadata: Record<string, string> = { piece: String(piece.no), ...options.metadata };
    // Sealing waits for this; the manifest is written from `metadata` after it, so it carries the counts.
    const sourceDone = produced.done.then((counts) => {
      metadata['raw-bytes'] = String(counts.rawBytes);
      metadata.adler32 = String(counts.adler32);
      return counts;
    });
    const progress = setInterval(() => options.onProgress?.(produced.progress()), PROGRESS_INTERVAL_MS);
    let stored;
    try {
      stored = await options.store.upload(options.key, produced.body, {
        sourceDone,
        metadata,
        sizeEstimate: Math.max(64 * 1024, Math.ceil(1.2 * piece.estimatedBytes)),
        // Several pieces upload at once in one process: each with the least memory storage allows.
        lean: true,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      produced.body.destroy();
      await sourceDone.catch(() => {});
      // The database's own error (COPY's, a query's) explains more than storage's "the source failed".
      throw produced.databaseError() ?? error;
    } finally {
      clearInterval(progress);
    }
    const counts = await sourceDone;
    options.onProgress?.({ rawBytes: counts.rawBytes, bytes: stored.bytes });
    failed = false;
    return {
      no: piece.no,
      key: stored.key,
      bytes: stored.bytes,
      sha256: stored.sha256,
      rawBytes: counts.rawBytes,
      adler32: counts.adler32,
      rows: counts.rows,
      seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    };
  } catch (error) {
    if (signal?.aborted) throw canceled();
    if (isBackupFailure(error)) throw error;
    throw dumpFailed(`${describePiece(piece)} failed: ${redact((error as Error).message, [...secrets])}`, {
      retryable: true,
      cause: error,
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A session of our own is closed; a lent one only when this piece failed while using it.
    if (session && ((failed && !released) || session !== options.session)) await session.close();
  }
}

/** `bytes` rounded up to 16 KiB, at most `largest`. */
function bufferSize(bytes: number, largest: number): number {
  const step = 16 * 1024;
  return Math.min(largest, Math.max(step, Math.ceil(bytes / step) * step));
}

interface Counts {
  rawBytes: number;
  adler32: number;
  rows: number;
}

interface Produced {
  body: Readable;
  /** Resolves once every byte went into `body` and it ended. */
  done: Promise<Counts>;
  progress(): { rawBytes: number; bytes: number };
  /** The first error the database raised, if any. */
  databaseError(): Error | null;
}

/** COPY of a table piece, through the piece compressor. */
function startTable(client: pg.Client, piece: PlannedPiece, plan: ShardPlan): Produced {
  if (piece.copyStatement === null) throw new Error(`${describePiece(piece)} has no COPY statement`);
  const query = pieceQuery(piece.copyStatement, piece.blocks);
  // A small table's piece gets buffers its size: hundreds of them each allocating the full sizes
  // kept the collector busy (V8 runs a full collection for every few tens of MiB of buffers).
  const deflate = createPieceDeflate({
    level: plan.compressionLevel,
    outputBytes: bufferSize(piece.estimatedBytes / 2, 256 * 1024),
    // The COPY stream's buffers are handed on whole, and nothing between them and zlib keeps them.
    ownsInput: true,
  });
  const copy = client.query(copyOut(query.copy, { chunkBytes: bufferSize(piece.estimatedBytes, 128 * 1024) }));
  let databaseError: Error | null = null;
  copy.once('error', (error) => (databaseError ??= error));
  const paced = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      pace(chunk.length);
      callback(null, chunk);
    },
  });
  const done = pipeline(copy, paced, deflate).then(() => ({
    rawBytes: deflate.rawBytes,
    adler32: deflate.adler32,
    // The stream ends only after the server's CommandComplete, which carries the count.
    rows: copy.rowCount ?? 0,
  }));
  done.catch(() => {});
  return {
    body: deflate,
    done,
    progress: () => ({ rawBytes: deflate.rawBytes, bytes: deflate.bytes }),
    databaseError: () => databaseError,
  };
}

/**
 * Every large object in oid order, each as pg_dump writes it in a BLOBS block: its oid, its own zlib
 * stream as chunks, a zero length (the block's final zero is the assembler's).
 */
function startLargeObjects(client: pg.Client, level: number): Produced {
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  let rawBytes = 0;
  let bytes = 0;
  let rows = 0;
  let databaseError: Error | null = null;
  const query = async <R extends pg.QueryResultRow>(config: pg.QueryConfig) => {
    try {
      return await client.query<R>(config);
    } catch (error) {
      databaseError ??= error as Error;
      throw error;
    }
  };
  const run = async (): Promise<Counts> => {
    let after = 0;
    for (;;) {
      const batch = await query<{ oid: string }>({
        text: `SELECT oid::pg_catalog.int8::pg_catalog.text AS oid FROM pg_catalog.pg_largeobject_metadata
         WHERE oid::pg_catalog.int8 > $1 ORDER BY oid::pg_catalog.int8 LIMIT ${LARGE_OBJECT_BATCH}`,
        values: [after],
      });
      if (batch.rows.length === 0) break;
      for (const { oid } of batch.rows) {
        const deflate = createLargeObjectDeflate({ level, oid: Number(oid) });
        const piped = pipeObject(deflate, body);
        for (let offset = 0; ; offset += LARGE_OBJECT_SLICE) {
          let data: Buffer;
          try {
            data = await readSlice(client, Number(oid), offset);
          } catch (error) {
            databaseError ??= error as Error;
            throw error;
          }
          if (data.length > 0) {
            rawBytes += data.length;
            pace(data.length);
            if (!deflate.write(data)) await once(deflate, 'drain');
          }
          if (data.length < LARGE_OBJECT_SLICE) break;
        }
        deflate.end();
        await piped;
        bytes += deflate.bytes;
        rows += 1;
        after = Number(oid);
      }
    }
    body.end();
    // Each object has its own Adler-32 inside its own stream; the piece as a whole has none.
    return { rawBytes, adler32: 1, rows };
  };
  const done = run();
  done.catch((error: unknown) => body.destroy(error as Error));
  return { body, done, progress: () => ({ rawBytes, bytes }), databaseError: () => databaseError };
}

/**
 * Passes one large object's compressed stream into the piece's body without ending it. Unlike
 * `pipeline(deflate, body, { end: false })`, it leaves no listener on the body once the object is
 * through (those piled up, one set per object, for the whole piece); a body closed early (storage
 * gave up) fails the object, so the producer stops.
 */
async function pipeObject(deflate: PieceDeflate, body: PassThrough): Promise<void> {
  const onData = (chunk: Buffer) => {
    if (!body.write(chunk)) deflate.pause();
  };
  const onDrain = () => deflate.resume();
  const onClose = () => deflate.destroy(new Error('the piece stream closed before its large objects were written'));
  if (body.destroyed) onClose();
  deflate.on('data', onData);
  body.on('drain', onDrain);
  body.once('close', onClose);
  try {
    await finished(deflate);
  } finally {
    deflate.off('data', onData);
    body.off('drain', onDrain);
    body.off('close', onClose);
  }
}

/**
 * `lo_get(oid, offset, LARGE_OBJECT_SLICE)` as its bytes. Through a binary COPY rather than a query:
 * pg returns bytea as a hex string (2 MB of it per MiB) that must then be decoded, which cost some
 * 40 ms of CPU per MB of large objects, most of it collecting those strings.
 */
async function readSlice(client: pg.Client, oid: number, offset: number): Promise<Buffer> {
  if (!Number.isSafeInteger(oid) || !Number.isSafeInteger(offset)) throw new Error(`bad slice ${oid} at ${offset}`);
  const copy = client.query(
    copyOut(
      `COPY (SELECT pg_catalog.lo_get(${oid}::pg_catalog.oid, ${offset}::pg_catalog.int8, ${LARGE_OBJECT_SLICE})) TO STDOUT (FORMAT binary)`,
      // The whole slice and its framing in one buffer.
      { chunkBytes: LARGE_OBJECT_SLICE + 64 },
    ),
  );
  const parts: Buffer[] = [];
  for await (const part of copy) parts.push(part as Buffer);
  return singleBinaryValue(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
}
