/**
 * CPU seconds per process, from /proc (Linux): what each part of a run cost, so the report can show
 * where a 2-core machine's time went. A process's own time counts while it runs; the time of children
 * it has waited for is added to its "children" fields (the postmaster's, for the server backends that
 * served a dump; ours, for pg_dump runs we spawned).
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times on every Linux we run on. */
const TICKS_PER_SECOND = 100;

export interface CpuTimes {
  /** The process's own user + system seconds. */
  self: number;
  /** User + system seconds of its children that have ended and been waited for. */
  children: number;
}

/** CPU times of `pid` (or this process), or undefined when it is gone or /proc is not there. */
export function cpuTimes(pid: number | 'self' = 'self'): CpuTimes | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const [utime, stime, cutime, cstime] = [fields[11]!, fields[12]!, fields[13]!, fields[14]!];
    return { self: (utime + stime) / TICKS_PER_SECOND, children: (cutime + cstime) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** The postmaster's pid, from the first line of postmaster.pid in the data folder. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
