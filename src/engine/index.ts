/**
 * The backup engine's one public entry: plan and run pg_dump, stream the archive to storage while
 * reading it through, and verify what was stored. Jobs, the CLI and the benchmark import from here
 * only; every other file in this folder is internal.
 */
import { prepareDump, type PrepareDumpOptions } from './prepare-dump.ts';
import { runDump, type DumpRun, type RunDumpOptions } from './run-dump.ts';
import type { BackupSource } from './source.ts';

export { isDumpFailure } from './dump-failures.ts';
export { isVerificationFailure, isReadBackFailure } from './verification-failures.ts';
export {
  directSource,
  herokuSource,
  requireTls,
  parseDatabaseUrl,
  describeConnection,
  type BackupSource,
  type ConnectionParams,
  type ResolvedSource,
  type SslMode,
} from './source.ts';
export { guardConnection, PUBLIC_HOSTS_ONLY } from './source-guard.ts';
export { connectSource, connectProblem, type SourceClientOptions } from './source-client.ts';
export type { HostPolicy } from '../net/host-guard.ts';
export { probeServer, majorFromVersionNum, type ServerInfo } from './server-info.ts';
export {
  selectPgBinaries,
  listPgBinaries,
  parsePgDumpVersion,
  uncoveredServerMajors,
  SUPPORTED_SERVER_MAJORS,
  type PgBinaries,
  type FindBinariesOptions,
} from './pg-binaries.ts';
export { describeFormat, restoreCommand, type DumpFormat, type DumpFormatInfo } from './dump-command.ts';
export { writePasswordFile, type PasswordFile } from './password-file.ts';
export { prepareDump, type DumpPlan, type PrepareDumpOptions } from './prepare-dump.ts';
export {
  runDump,
  type ArchiveLimit,
  type DumpRun,
  type DumpResult,
  type RunDumpOptions,
  type ThroughputFloor,
} from './run-dump.ts';
export type { DumpProgress } from './progress.ts';
export { captureArchive, type CaptureHooks, type CaptureOptions, type CapturedArchive } from './capture-archive.ts';
export { verifyArchive, type VerifiedArchive } from './verify-archive.ts';
export {
  surveyDatabase,
  type DatabaseSurvey,
  type SurveyedRole,
  type SurveyedTable,
  type SurveyOptions,
  type SurveySection,
} from './catalog-survey.ts';
export { planShardedCapture, type PlanShardedOptions } from './sharded/plan-capture.ts';
export { dumpPiece, describePiece, type DumpPieceOptions } from './sharded/dump-piece.ts';
export { openPieceSession, type PieceSession, type OpenPieceSessionOptions } from './sharded/piece-session.ts';
export {
  captureSharded,
  type ShardedCapture,
  type ShardedCaptureOptions,
  type ShardedProgress,
} from './sharded/capture-sharded.ts';
export { pieceKeys, type PieceKeys } from './sharded/piece-store.ts';
export type { CaptureMode, PlannedPiece, ShardPlan, PieceResult, ShardKeys } from './sharded/types.ts';

/** `prepareDump` then `runDump`: fails before spawning on a version mismatch or a bad connection. */
export async function startDump(
  source: BackupSource,
  options: PrepareDumpOptions & RunDumpOptions = {},
): Promise<DumpRun> {
  const plan = await prepareDump(source, options);
  return runDump(plan, options);
}
export {
  ArchiveHeadReader,
  ArchiveHeadError,
  parseArchiveHead,
  writeArchiveHead,
  dataEntries,
  archiveEncoding,
  archiveCompression,
  type ArchiveHead,
  type ArchiveHeader,
  type HeadEntry,
  type DataEntry,
  type ArchiveCompression,
} from './sharded/archive-head.ts';
export { adler32, adler32Combine } from './sharded/adler32.ts';
export {
  createPieceDeflate,
  createLargeObjectDeflate,
  PieceDeflate,
  type PieceDeflateOptions,
} from './sharded/piece-deflate.ts';
export { MAX_CHUNK_BYTES } from './sharded/archive-chunks.ts';
export { layoutArchive, AssemblyError, COPY_TERMINATOR, zlibHeader, type ArchiveLayout } from './sharded/assembly.ts';
export { assembleShardedArchive, type AssembleOptions } from './sharded/assemble-archive.ts';
export { fingerprintDatabase, type DatabaseFingerprint, type SchemaObjectKind } from './database-fingerprint.ts';
export { compareFingerprints, type DrillComparison, type DrillDifference } from './compare-fingerprints.ts';
export {
  restoreArchive,
  removeStaleSpools,
  type RestoreArchiveOptions,
  type RestoredArchive,
} from './restore-archive.ts';
export { runRestoreDrill, type RestoreDrillOptions, type RestoreDrillResult } from './restore-drill.ts';
