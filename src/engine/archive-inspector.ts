import { Transform } from 'node:stream';
import type { DumpInspection } from './dump-inspection.ts';
import { drained, spawnRestore, type RestoreProcess } from './restore-process.ts';
import { verificationFailed } from './verification-failures.ts';

/** A pass-through stage for pg_dump's output that reads the archive through as it goes by. */
export interface ArchiveInspector {
  /** Insert into the archive stream before any compression wrapper. */
  readonly tap: Transform;
  /** Once the stream has ended: both pg_restore runs exited 0, or a verification failure. */
  result(): Promise<DumpInspection>;
  /** Stops the pg_restore processes (on failure or cancel). */
  kill(): void;
}

/**
 * Reads the archive through while pg_dump writes it, so verification does not have to wait for the
 * upload to finish: `pg_restore --file=/dev/null` parses (and decompresses) every block and
 * `pg_restore --list` reads the table of contents, from the very bytes that are hashed and stored.
 * Each chunk is passed downstream at once; the next one waits until both pg_restore runs accepted this
 * one, so the read-through runs beside the upload on the second core and memory stays bounded. After
 * storage, verification only has to prove the stored object holds these bytes (see verifyArchive's
 * `readThrough` option).
 */
export function startArchiveInspector(pgRestore: string): ArchiveInspector {
  const list = spawnRestore(pgRestore, ['--list']);
  const readThrough = spawnRestore(pgRestore, ['--file=/dev/null']);
  const listOutput: Buffer[] = [];
  list.child.stdout.on('data', (chunk: Buffer) => listOutput.push(chunk));
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      this.push(chunk);
      const waits = [list, readThrough].map((p) => accept(p, chunk)).filter((w): w is Promise<void> => w !== null);
      if (waits.length === 0) return callback();
      Promise.all(waits).then(() => callback(), callback);
    },
    flush(callback) {
      list.child.stdin.end();
      readThrough.child.stdin.end();
      callback();
    },
  });
  const kill = () => {
    list.child.kill('SIGKILL');
    readThrough.child.kill('SIGKILL');
  };
  tap.once('error', kill);
  // A read-through that fails half-way fails the dump at once (pg_dump stopped, upload aborted) rather
  // than after the whole database was dumped and stored.
  let inputEnded = false;
  tap.once('finish', () => {
    inputEnded = true;
  });
  void readThrough.exit.then((code) => {
    if (code !== 0 && !inputEnded && !tap.destroyed) {
      tap.destroy(verificationFailed(`pg_restore could not read the archive through: ${readThrough.stderrTail()}`));
    }
  });
  return {
    tap,
    kill,
    async result() {
      const [listStatus, readStatus] = await Promise.all([list.exit, readThrough.exit]);
      if (listStatus !== 0)
        throw verificationFailed(`pg_restore could not read the table of contents: ${list.stderrTail()}`);
      if (readStatus !== 0)
        throw verificationFailed(`pg_restore could not read the archive through: ${readThrough.stderrTail()}`);
      return { rawBytes: bytes, listing: Buffer.concat(listOutput).toString('utf8') };
    },
  };
}

/** Writes a chunk to a pg_restore; null when it took it at once or has stopped reading (--list does, after the TOC). */
function accept(p: RestoreProcess, chunk: Buffer): Promise<void> | null {
  const stdin = p.child.stdin;
  if (stdin.destroyed || stdin.writableEnded) return null;
  return stdin.write(chunk) ? null : drained(stdin);
}
