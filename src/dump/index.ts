import { prepareDump, type PrepareDumpOptions } from './prepare-dump.ts';
import { runDump, type DumpRun, type RunDumpOptions } from './run-dump.ts';
import type { BackupSource } from './source.ts';

export { DumpError, isDumpError, type DumpErrorCode } from './errors.ts';
export { Secret, redact } from './redact.ts';
export { directSource, parseDatabaseUrl, describeConnection, type BackupSource, type ConnectionParams, type ResolvedSource, type SslMode } from './source.ts';
export { probeServer, majorFromVersionNum, type ServerInfo } from './server-info.ts';
export { selectPgBinaries, listPgBinaries, parsePgDumpVersion, uncoveredServerMajors, SUPPORTED_SERVER_MAJORS, type PgBinaries, type FindBinariesOptions } from './pg-binaries.ts';
export { describeFormat, restoreCommand, type DumpFormat, type DumpFormatInfo } from './dump-command.ts';
export { prepareDump, type DumpPlan, type PrepareDumpOptions } from './prepare-dump.ts';
export { runDump, type DumpRun, type DumpResult, type RunDumpOptions } from './run-dump.ts';
export type { DumpProgress } from './progress.ts';

/** `prepareDump` then `runDump`: fails before spawning on a version mismatch or a bad connection. */
export async function startDump(source: BackupSource, options: PrepareDumpOptions & RunDumpOptions = {}): Promise<DumpRun> {
  const plan = await prepareDump(source, options);
  return runDump(plan, options);
}
