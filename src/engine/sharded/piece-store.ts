import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { PieceResult, ShardKeys, ShardPlan } from './types.ts';

/**
 * What the one-shot command keeps in storage beside a sharded capture's pieces, so a later run with
 * `--resume` can carry on: the plan (`<archive>.pieces/plan.json`) and, per finished piece, a record
 * (`<archive>.pieces/piece-00007.json`) written only after storage proved the piece. A piece is reused
 * only when its record names this plan and the stored piece's sealed size and digest equal the
 * record's: a piece object without a record (a crash between the two) is dumped again.
 */
export interface PieceKeys extends ShardKeys {
  prefix: string;
  plan: string;
  record(no: number): string;
}

/** The keys of a sharded capture whose archive goes to `archive`. */
export function pieceKeys(archive: string): PieceKeys {
  const prefix = `${archive}.pieces/`;
  const name = (no: number) => `piece-${String(no).padStart(5, '0')}`;
  return {
    archive,
    prefix,
    plan: `${prefix}plan.json`,
    piece: (no) => prefix + name(no),
    record: (no) => `${prefix}${name(no)}.json`,
  };
}

interface PieceRecord {
  version: 1;
  archive: string;
  /** SHA-256 of the stored plan's JSON: a record of another plan never counts. */
  plan: string;
  result: PieceResult;
}

/** The plan's identity: the SHA-256 of its JSON. */
export function planDigest(plan: ShardPlan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

/** Stores a small JSON object, sealed like any other. */
async function putJson(store: ObjectStore, key: string, value: unknown, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(JSON.stringify(value) + '\n');
  await store.upload(key, Readable.from([body]), {
    sizeEstimate: body.length,
    contentType: 'application/json',
    ...(signal ? { signal } : {}),
  });
}

/** A sealed JSON object's value, or null when there is none (or it was never sealed). */
async function getJson<T>(store: ObjectStore, key: string): Promise<T | null> {
  const info = await store.head(key);
  if (info === null || info.manifest === null) return null;
  const bytes = await readAll(await store.read(key));
  if (bytes.length !== info.manifest.bytes) return null;
  if (createHash('sha256').update(bytes).digest('hex') !== info.manifest.sha256) return null;
  return JSON.parse(bytes.toString('utf8')) as T;
}

export async function storePlan(store: ObjectStore, keys: PieceKeys, plan: ShardPlan, signal?: AbortSignal) {
  await putJson(store, keys.plan, plan, signal);
}

export async function loadPlan(store: ObjectStore, keys: PieceKeys): Promise<ShardPlan | null> {
  return getJson<ShardPlan>(store, keys.plan);
}

export async function storeRecord(
  store: ObjectStore,
  keys: PieceKeys,
  digest: string,
  result: PieceResult,
  signal?: AbortSignal,
): Promise<void> {
  const record: PieceRecord = { version: 1, archive: keys.archive, plan: digest, result };
  await putJson(store, keys.record(result.no), record, signal);
}

/**
 * The results of the plan's pieces that are already done: a sealed record for this plan and archive,
 * and a sealed piece object of exactly the recorded size and digest.
 */
export async function reusablePieces(
  store: ObjectStore,
  keys: PieceKeys,
  plan: ShardPlan,
): Promise<Map<number, PieceResult>> {
  const digest = planDigest(plan);
  const found = new Map<number, PieceResult>();
  for (const piece of plan.pieces) {
    const record = await getJson<PieceRecord>(store, keys.record(piece.no)).catch(() => null);
    if (record?.version !== 1 || record.plan !== digest || record.archive !== keys.archive) continue;
    const { result } = record;
    if (result.no !== piece.no || result.key !== keys.piece(piece.no)) continue;
    const stored = await store.head(result.key);
    if (stored?.manifest?.bytes !== result.bytes || stored.manifest.sha256 !== result.sha256) continue;
    if (stored.bytes !== result.bytes) continue;
    found.set(piece.no, result);
  }
  return found;
}

/** Removes every piece, record and the plan (whatever is under the prefix, sealed or not). */
export async function deletePieces(store: ObjectStore, keys: PieceKeys): Promise<void> {
  const objects = await store.list(keys.prefix);
  // Records first (a record must never outlive its piece), the plan last.
  const rank = (key: string) => (key === keys.plan ? 2 : key.endsWith('.json') ? 0 : 1);
  const ordered = [...objects].sort((a, b) => rank(a.key) - rank(b.key));
  for (const object of ordered) await store.delete(object.key);
  for (const upload of await store.listIncompleteUploads(keys.prefix)) await store.abortIncompleteUpload(upload);
}
