/**
 * The sharded capture's vocabulary, shared by the planner, the piece dumper, the assembler, the
 * one-shot command and the jobs. A fork cannot change while it is dumped, so its dump is cut into
 * pieces that any process may dump at any time; the pieces are joined afterwards into one ordinary
 * `pg_dump -Fc` archive (see ../shared/docs/sharded-capture.md for the format facts).
 *
 * Everything here is plain data that survives JSON: plans and piece results are stored (in our database
 * for the service, beside the pieces in storage for the one-shot command) and read back by another
 * process, possibly days later.
 */

/** How a backup was captured, and why: recorded on the backup and shown wherever the backup is. */
export type CaptureMode = 'sharded' | 'single';

/** One unit of work: rows of one table (all, or a ctid range of them), or every large object. */
export interface PlannedPiece {
  /** 0-based and stable within its plan; names the piece's object and its record. */
  no: number;
  /** The TOC entry (TABLE DATA or BLOBS) whose single data block this piece is part of. */
  dumpId: number;
  kind: 'table' | 'large_objects';
  /** For display: the table's schema and name as pg_dump's TOC entry has them (unquoted); null for large objects. */
  schema: string | null;
  table: string | null;
  /**
   * The rows of a table piece: heap blocks `[fromBlock, toBlock)` by ctid, either end null for open;
   * null for the whole table. Only on PostgreSQL 14+ (TID range scans); older servers dump tables whole.
   */
  blocks: { fromBlock: number | null; toBlock: number | null } | null;
  /** The piece's place among its table's pieces (0-based) and how many there are: their data joins in this order. */
  part: number;
  parts: number;
  /** The TOC entry's own `COPY … FROM stdin;` statement (table pieces), from which the column list is taken. */
  copyStatement: string | null;
  /** Expected on-disk bytes the piece reads (`pg_relation_size` share), for ordering, progress and ETA. */
  estimatedBytes: number;
}

/** The plan of one sharded capture, recorded before any piece runs. */
export interface ShardPlan {
  /** `sharded`, or `single` when this backup must be one pg_dump stream; `modeReason` says why either way. */
  mode: CaptureMode;
  modeReason: string;
  /** The archive's header and complete TOC exactly as pg_dump wrote them on a pipe, base64 (offsets unset). */
  headBase64: string;
  /** Archive version as pg_dump wrote it, e.g. `1.14`. */
  archiveVersion: string;
  /** zlib level the pieces compress with (the format's gzip level). */
  compressionLevel: number;
  /** The dump's client encoding, from the TOC's ENCODING entry (`UTF8`). */
  encoding: string;
  /** Server facts, as the single-stream plan records them. */
  serverVersion: string;
  serverMajor: number;
  pgDumpVersion: string;
  databaseBytes: number;
  splitSizeBytes: number;
  /** In the order they should be run (largest first); `no` gives the order in the archive. */
  pieces: PlannedPiece[];
}

/** A finished piece: only these, with a stored object whose size and digest match, are ever assembled. */
export interface PieceResult {
  no: number;
  key: string;
  /** Stored bytes (chunk-framed raw deflate, see zlib-join) and their SHA-256, proven by storage. */
  bytes: number;
  sha256: string;
  /** Uncompressed bytes (COPY text) and their Adler-32, from which the block's zlib trailer is combined. */
  rawBytes: number;
  adler32: number;
  /** Rows copied (table pieces), large objects (large-object piece). */
  rows: number;
  seconds: number;
}

/** Where the pieces' bytes go and the archive is built: the store plus the names. */
export interface ShardKeys {
  /** The assembled archive's key. */
  archive: string;
  /** A piece's object key. */
  piece(no: number): string;
}
