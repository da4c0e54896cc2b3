import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { SYSTEM_PG15_BIN } from '../../dev/db/local-cluster.ts';
import { parseDatabaseUrl, writePasswordFile } from '../../src/engine/index.ts';
import { dataEntries, parseArchiveHead, type ArchiveHead } from '../../src/engine/sharded/archive-head.ts';
import {
  createLargeObjectDeflate,
  createPieceDeflate,
  type PieceDeflate,
} from '../../src/engine/sharded/piece-deflate.ts';
import type { PieceResult, PlannedPiece } from '../../src/engine/sharded/types.ts';

/** The flags our dumps use (src/engine/dump-command.ts). */
export const DUMP_FLAGS = ['-Fc', '--compress=2', '--no-acl', '--no-owner', '--quote-all-identifiers', '--verbose'];

/** A database's head and its data cut into pieces by hand, compressed as the sharded capture does. */
export interface HandMadePieces {
  /** pg_dump's whole archive on a pipe (the stock archive to compare with). */
  stock: Buffer;
  head: ArchiveHead;
  pieces: PlannedPiece[];
  results: PieceResult[];
  /** The stored bytes of each piece, by key. */
  objects: Map<string, Buffer>;
}

/**
 * Dumps `url` with pg_dump on a pipe for its head, then copies each table's rows with psql (pg_dump's
 * session settings, the entry's own column list), splits them at row boundaries into `parts` pieces
 * (some may be empty), and compresses every piece apart; the large objects go into one piece.
 */
export async function makePieces(url: string, options: { parts: number; keyPrefix?: string }): Promise<HandMadePieces> {
  const run = promisify(execFile);
  const connection = parseDatabaseUrl(url);
  const passwordFile = await writePasswordFile(connection);
  const env = {
    PATH: '/usr/bin:/bin',
    LC_ALL: 'C',
    PGPASSFILE: passwordFile.path,
    PGCLIENTENCODING: 'UTF8',
    PGOPTIONS: '-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c synchronize_seqscans=off',
  };
  const conn = [
    `--host=${connection.host}`,
    `--port=${connection.port}`,
    `--username=${connection.user}`,
    `--dbname=${connection.database}`,
  ];
  try {
    const stock = (
      await run(path.join(SYSTEM_PG15_BIN, 'pg_dump'), [...DUMP_FLAGS, ...conn], {
        encoding: 'buffer',
        maxBuffer: 1 << 30,
        env,
      })
    ).stdout;
    const head = parseArchiveHead(stock);
    const pieces: PlannedPiece[] = [];
    const results: PieceResult[] = [];
    const objects = new Map<string, Buffer>();
    const prefix = options.keyPrefix ?? 'pieces';
    const store = async (piece: PlannedPiece, inputs: Buffer[], deflate: PieceDeflate, rows: number) => {
      const out: Buffer[] = [];
      await pipeline(Readable.from(inputs), deflate, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) out.push(chunk);
      });
      const bytes = Buffer.concat(out);
      const key = `${prefix}/${piece.no}.piece`;
      objects.set(key, bytes);
      pieces.push(piece);
      results.push({
        no: piece.no,
        key,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        rawBytes: deflate.rawBytes,
        adler32: deflate.adler32,
        rows,
        seconds: 0,
      });
    };
    for (const entry of dataEntries(head)) {
      const base = { dumpId: entry.dumpId, schema: entry.namespace, table: entry.tag, blocks: null, estimatedBytes: 0 };
      if (entry.kind === 'large_objects') {
        const piece: PlannedPiece = {
          ...base,
          no: pieces.length,
          kind: 'large_objects',
          schema: null,
          table: null,
          part: 0,
          parts: 1,
          copyStatement: null,
        };
        const client = new pg.Client(url);
        await client.connect();
        const los = await client.query<{ oid: number; data: Buffer }>(
          'select oid::int8::float8 as oid, lo_get(oid) as data from pg_largeobject_metadata order by oid',
        );
        await client.end();
        const parts: Buffer[] = [];
        for (const lo of los.rows) {
          const one = createLargeObjectDeflate({ oid: Number(lo.oid), level: 2 });
          const out: Buffer[] = [];
          await pipeline(Readable.from([lo.data]), one, async (source: AsyncIterable<Buffer>) => {
            for await (const chunk of source) out.push(chunk);
          });
          parts.push(...out);
        }
        // Already framed: passed through as they are, so no compressor of its own.
        const key = `${prefix}/${piece.no}.piece`;
        const bytes = Buffer.concat(parts);
        objects.set(key, bytes);
        pieces.push(piece);
        results.push({
          no: piece.no,
          key,
          bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          rawBytes: 0,
          adler32: 1,
          rows: los.rows.length,
          seconds: 0,
        });
        continue;
      }
      const copy = entry.copyStmt!.replace(/ FROM stdin;\n$/, ' TO STDOUT');
      const text = (
        await run(path.join(SYSTEM_PG15_BIN, 'psql'), ['-X', '-q', ...conn, '-c', copy], {
          encoding: 'buffer',
          maxBuffer: 1 << 30,
          env,
        })
      ).stdout;
      const lines =
        text.length === 0
          ? []
          : text
              .subarray(0, -1)
              .toString('utf8')
              .split('\n')
              .map((l) => l + '\n');
      const per = Math.ceil(lines.length / options.parts);
      for (let part = 0; part < options.parts; part++) {
        const partLines = lines.slice(part * per, (part + 1) * per);
        const chunk = Buffer.from(partLines.join(''));
        const piece: PlannedPiece = {
          ...base,
          no: pieces.length,
          kind: 'table',
          part,
          parts: options.parts,
          copyStatement: entry.copyStmt,
        };
        // Fed in two writes, split mid-row: a piece's rows need not arrive row by row.
        await store(
          piece,
          [chunk.subarray(0, 3), chunk.subarray(3)],
          createPieceDeflate({ level: 2 }),
          partLines.length,
        );
      }
    }
    return { stock, head, pieces, results, objects };
  } finally {
    await passwordFile.remove();
  }
}
