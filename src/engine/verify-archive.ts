import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { Writable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { createGarbagePacer } from './garbage-pacer.ts';
import { freeBuffer } from '../shared/free-buffer.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { archiveContents, type ContentsEntry } from './archive-contents.ts';
import { ArchiveTocReader, type TocEntry } from './archive-toc.ts';
import type { DumpInspection } from './dump-inspection.ts';
import { drained, spawnRestore } from './restore-process.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { isVerificationFailure, readBackFailed, verificationFailed } from './verification-failures.ts';

// Compressed bytes queued for the zstd decompressor before reading the object waits for it.
const DECOMPRESS_QUEUE_BYTES = 8 * 1024 * 1024;

/** What reading an archive back proved. */
export interface VerifiedArchive {
  bytes: number;
  sha256: string;
  /** Tables whose rows the archive holds (TABLE DATA entries). */
  tableCount: number;
  /** All table-of-contents entries. */
  tocEntries: number;
  /** The objects the table of contents names (schemas, tables, views, …), for browsing and search. */
  contents: { entries: ContentsEntry[]; truncated: boolean };
}

/**
 * Reads the stored object back and proves it: the store reports the expected size and digest, the
 * bytes read hash to the digest computed while uploading, `pg_restore --list` reads its table of
 * contents, and a full `pg_restore` to /dev/null reads (and decompresses) every data block. One pass
 * over the object feeds all three; with `readThroughShares` the read-through is instead split between
 * several pg_restore processes reading their own ranges beside that pass, and together they must
 * cover every entry of the table of contents that has data.
 *
 * With `readThrough` (the engine read the archive through while pg_dump wrote it, see
 * archive-inspector.ts), the full read-through is not repeated: instead the stored object must hold
 * exactly the bytes that were read through, and `pg_restore --list` of the stored object must find the
 * same table of contents. Without a wrapper the stored bytes are those bytes (same length, and the
 * digest above). A zstd wrapper must decompress completely, to the same length, and its frame checksum
 * (XXH64 of everything the compressor was fed, which was exactly the stream read through; checked by
 * the decompressor itself) must match: that proves it decompresses to those bytes without a second
 * SHA-256 over the uncompressed archive. When the wrapper was already decoded that way while it was
 * written (`readThrough.wrapperDecodedBytes`, see wrapper-check.ts), the digest proves the stored
 * object is that stream, and only the head is decoded, for `pg_restore --list`.
 */
export async function verifyArchive(
  store: ObjectStore,
  key: string,
  expected: { bytes: number; sha256: string | null },
  options: {
    pgRestore: string;
    wrapper: 'none' | 'zstd';
    signal?: AbortSignal;
    readThrough?: DumpInspection;
    /**
     * Sees every stored byte in order, synchronously, as it is read (the sharded assembly checks its
     * segments with it); it must not keep the chunk.
     */
    observe?: (chunk: Buffer) => void;
    /**
     * Splits the full read-through between several pg_restore processes, one per share: each reads
     * its own ranges of the object (the head and its entries' data blocks, in the archive's order) and
     * restores only its entries (`--use-list`), side by side with the one pass that digests the object
     * and lists its contents. Together the shares must hold every entry with data. On a machine with
     * more than one core the read-through then takes a fraction of the time; without shares (or with
     * one) a single pg_restore reads the whole object in that one pass.
     */
    readThroughShares?: readonly ReadThroughShare[];
  },
): Promise<VerifiedArchive> {
  // A store that cannot answer says nothing about the archive, as for the read below: worth asking again.
  const info = await store.head(key).catch((error: unknown) => {
    throw readBackFailed(error);
  });
  if (!info) throw verificationFailed('the archive is missing from storage');
  if (info.bytes !== expected.bytes)
    throw verificationFailed(`storage holds ${info.bytes} bytes, but ${expected.bytes} were written`);
  // A null digest: an object not sealed yet (a composed archive), whose digest this read computes.
  if (expected.sha256 !== null && info.manifest?.sha256 !== expected.sha256)
    throw verificationFailed('the digest kept in storage does not match the one computed while writing');

  const decoded = options.readThrough?.wrapperDecodedBytes;
  if (options.wrapper === 'zstd' && decoded !== undefined && decoded !== options.readThrough!.rawBytes) {
    throw verificationFailed(
      'the stored archive does not decompress to the archive that was read through while dumping',
    );
  }

  const shares = options.readThrough ? null : await writeShareLists(options.readThroughShares);
  const stopShares = new AbortController();
  const onAbortShares = () => stopShares.abort();
  options.signal?.addEventListener('abort', onAbortShares, { once: true });
  // Open the object first: a read that fails then leaves no pg_restore waiting on its stdin.
  const body = await store
    .read(key, { ...(options.signal ? { signal: options.signal } : {}) })
    .catch(async (error: unknown) => {
      options.signal?.removeEventListener('abort', onAbortShares);
      await shares?.remove();
      throw readBackFailed(error);
    });
  let readThroughs: ReturnType<typeof spawnRestore>[];
  let list: ReturnType<typeof spawnRestore>;
  try {
    list = spawnRestore(options.pgRestore, ['--list']);
    readThroughs = options.readThrough || shares ? [] : [spawnRestore(options.pgRestore, ['--file=/dev/null'])];
  } catch (error) {
    body.destroy();
    options.signal?.removeEventListener('abort', onAbortShares);
    await shares?.remove();
    throw error;
  }
  const readers = [list, ...readThroughs];
  // Each share reads its own ranges, at its own pace, beside this pass.
  const shareReads = (shares?.shares ?? []).map(({ file, ranges }) =>
    readShareThrough(store, key, options.pgRestore, file, ranges, stopShares.signal),
  );
  const sharesDone = Promise.all(shareReads);
  sharesDone.catch(() => stopShares.abort());
  // Reads the table of contents' fields from the same bytes pg_restore --list reads (see archiveContents).
  const toc = new ArchiveTocReader();
  const feed = (chunk: Buffer) => {
    toc.push(chunk);
    return Promise.all(readers.map((p) => writeTo(p.child.stdin, chunk)));
  };
  const endReaders = () => {
    for (const p of readers) p.child.stdin.end();
  };
  let rawBytes = 0;
  let decompressError: BackupFailure | undefined;
  const listOutput: Buffer[] = [];
  list.child.stdout.on('data', (chunk: Buffer) => listOutput.push(chunk));
  const hash = createHash('sha256');
  let bytes = 0;
  // Decompress a zstd-wrapped archive for pg_restore; the digest is over the stored bytes.
  const restoreInput = options.wrapper === 'zstd' ? zlib.createZstdDecompress({ chunkSize: 1 << 20 }) : null;
  const wrapperProven = restoreInput !== null && options.readThrough?.wrapperDecodedBytes !== undefined;
  const readersDone = () => readers.every((p) => p.child.stdin.destroyed || p.child.stdin.writableEnded);
  // Set once the proven wrapper's head was decoded far enough for every reader; the rest is only hashed.
  let headOnly = false;
  const pace = createGarbagePacer();
  const fanOut = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, done) {
      pace(chunk.length);
      hash.update(chunk);
      options.observe?.(chunk);
      bytes += chunk.length;
      // Past the head nothing but the digest reads the object: free each read at once.
      if (headOnly || (!restoreInput && readersDone())) {
        freeBuffer(chunk);
        return done();
      }
      if (!restoreInput) return void feed(chunk).then(() => done(), done);
      if (wrapperProven && readersDone()) {
        headOnly = true;
        restoreInput.destroy();
        return done();
      }
      // Keep a few MiB queued for the decompressor (it runs on the thread pool) instead of a round
      // trip per chunk; wait only when it falls behind.
      if (restoreInput.write(chunk) || restoreInput.writableLength < DECOMPRESS_QUEUE_BYTES) return done();
      void drained(restoreInput).then(() => done(), done);
    },
    final(done) {
      if (restoreInput && !headOnly) restoreInput.end();
      else endReaders();
      done();
    },
  });
  if (restoreInput) {
    restoreInput.on('data', (chunk: Buffer) => {
      rawBytes += chunk.length;
      // Once pg_restore --list has its table of contents (and no read-through runs), nobody else reads.
      if (readersDone()) return;
      restoreInput.pause();
      feed(chunk).then(
        () => restoreInput.resume(),
        (e: Error) => restoreInput.destroy(e),
      );
    });
    restoreInput.on('end', endReaders);
    // A frame that fails its checksum (or is cut short) must fail verification, not the process.
    restoreInput.on('error', (error: Error) => {
      decompressError ??= verificationFailed(`the stored archive does not decompress: ${error.message}`);
      if (!fanOut.destroyed) fanOut.destroy(decompressError);
    });
  }
  const abort = () => {
    for (const p of readers) p.child.kill('SIGKILL');
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await new Promise<void>((resolve, reject) =>
      pipeline(body, fanOut, (error) => (error ? reject(error) : resolve())),
    );
    if (restoreInput && !headOnly && !restoreInput.readableEnded) {
      if (decompressError) throw decompressError;
      await once(restoreInput, 'end');
    }
    const [listStatus, ...readStatuses] = await Promise.all([list.exit, ...readThroughs.map((p) => p.exit)]);
    const failedReader = readThroughs.find((_, i) => readStatuses[i] !== 0);
    await sharesDone;
    if (shares) assertSharesCoverData(toc.entries(), options.readThroughShares ?? []);
    const digest = hash.digest('hex');
    if (bytes !== expected.bytes)
      throw verificationFailed(`read back ${bytes} bytes, but ${expected.bytes} were written`);
    if (expected.sha256 !== null && digest !== expected.sha256)
      throw verificationFailed('the bytes read back do not match the digest computed while writing');
    if (listStatus !== 0)
      throw verificationFailed(`pg_restore could not read the table of contents: ${list.stderrTail()}`);
    if (failedReader)
      throw verificationFailed(`pg_restore could not read the archive through: ${failedReader.stderrTail()}`);
    const listing = Buffer.concat(listOutput).toString('utf8');
    const counts = countToc(listing);
    if (options.readThrough) {
      if (!headOnly && (restoreInput ? rawBytes : bytes) !== options.readThrough.rawBytes) {
        throw verificationFailed(
          restoreInput
            ? 'the stored archive does not decompress to the archive that was read through while dumping'
            : 'the stored archive is not the archive that was read through while dumping',
        );
      }
      if (counts.tocEntries !== countToc(options.readThrough.listing).tocEntries) {
        throw verificationFailed("the stored archive's table of contents differs from the one read while dumping");
      }
    }
    return { bytes, sha256: digest, ...counts, contents: archiveContents(toc.entries(), listing) };
  } catch (error) {
    abort();
    stopShares.abort();
    await Promise.allSettled(shareReads);
    if (decompressError) throw decompressError;
    if (isVerificationFailure(error)) throw error;
    throw readBackFailed(error);
  } finally {
    options.signal?.removeEventListener('abort', abort);
    options.signal?.removeEventListener('abort', onAbortShares);
    await shares?.remove();
  }
}

/** Entries whose data blocks a full read-through must read (pg_backup_archiver.c: TABLE DATA, large objects). */
const DATA_DESCS = new Set(['TABLE DATA', 'BLOBS']);

/** The shares must name every entry with data of the table of contents, each once, and nothing else. */
function assertSharesCoverData(entries: TocEntry[] | null, shares: readonly ReadThroughShare[]): void {
  if (entries === null) throw verificationFailed('the table of contents could not be read to check the read-through');
  const wanted = entries.filter((e) => DATA_DESCS.has(e.desc)).map((e) => e.dumpId);
  const read = shares.flatMap((share) => share.dumpIds);
  const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b).join(',');
  if (sorted(wanted) !== sorted(read))
    throw verificationFailed(
      `the read-through covered entries ${sorted(read)}, but the archive's data entries are ${sorted(wanted)}`,
    );
}

/** One pg_restore's share of the full read-through: its entries, and the object's ranges holding them. */
export interface ReadThroughShare {
  /** Dump ids of the entries it restores. */
  dumpIds: readonly number[];
  /** Inclusive byte ranges of the object, in order: the head first, then the entries' data blocks. */
  ranges: readonly { start: number; end: number }[];
}

/** The shares' `--use-list` files (one dump id a line), in a private temporary folder; null for fewer than two. */
async function writeShareLists(shares: readonly ReadThroughShare[] | undefined): Promise<{
  shares: { file: string; ranges: ReadThroughShare['ranges'] }[];
  remove(): Promise<void>;
} | null> {
  const used = (shares ?? []).filter((share) => share.dumpIds.length > 0);
  if (used.length < 2) return null;
  for (const share of used)
    for (const id of share.dumpIds)
      if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`dump id ${id} is not valid`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'big-backup-lists-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const files = await Promise.all(
      used.map(async (share, i) => {
        const file = path.join(dir, `share-${i + 1}.list`);
        await writeFile(file, share.dumpIds.map((id) => `${id}\n`).join(''), { mode: 0o600 });
        return { file, ranges: share.ranges };
      }),
    );
    return { shares: files, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * One share of the read-through: `pg_restore --file=/dev/null --use-list=<file>` fed the share's
 * ranges of the object one after another (pg_restore reads a custom archive from a pipe block by
 * block, and finds exactly the blocks it was listed). Rejects with pg_restore's words if it fails.
 */
async function readShareThrough(
  store: ObjectStore,
  key: string,
  pgRestore: string,
  file: string,
  ranges: ReadThroughShare['ranges'],
  signal: AbortSignal,
): Promise<void> {
  const reader = spawnRestore(pgRestore, ['--file=/dev/null', `--use-list=${file}`]);
  const stdin = reader.child.stdin;
  const stop = () => reader.child.kill('SIGKILL');
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (const range of ranges) {
      if (signal.aborted || stdin.destroyed) break;
      const body = await store.read(key, { start: range.start, end: range.end, signal }).catch((error: unknown) => {
        throw readBackFailed(error);
      });
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (stdin.destroyed) break;
        // Freed once in the pipe, like the pass's reads (see freeBuffer).
        if (!stdin.write(chunk, (error) => void (error ?? freeBuffer(chunk)))) await drained(stdin);
      }
    }
    stdin.end();
    const status = await reader.exit;
    if (signal.aborted) throw readBackFailed(new Error('the read-through was stopped'));
    if (status !== 0) throw verificationFailed(`pg_restore could not read the archive through: ${reader.stderrTail()}`);
  } catch (error) {
    stop();
    await reader.exit;
    throw error;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** Counts table-of-contents lines: `1234; 0 16385 TABLE DATA public orders owner`. */
export function countToc(listing: string): { tableCount: number; tocEntries: number } {
  const entries = listing.split('\n').filter((line) => /^\d+;/.test(line));
  return {
    tocEntries: entries.length,
    tableCount: entries.filter((line) => /^\d+; \d+ \d+ TABLE DATA /.test(line)).length,
  };
}

/** Writes a chunk and waits for drain; a stream already closed (pg_restore done reading) is skipped. */
function writeTo(
  stream: NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean },
  chunk: Buffer,
): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return stream.write(chunk) ? Promise.resolve() : drained(stream);
}
