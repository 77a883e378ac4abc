import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What a benchmark reads of one process from /proc: its CPU time so far and its peak resident set. */
export interface ProcessCost {
  /** utime + stime of the process and of its children it has waited for (cutime + cstime), in seconds. */
  cpuSeconds: number;
  /** VmHWM, in MB. */
  peakRssMb: number;
}

let clockTicks: number | undefined;
/** Clock ticks per second, the unit of /proc/<pid>/stat's times (getconf CLK_TCK). */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return clockTicks;
}

/**
 * CPU seconds in a /proc/<pid>/stat line: fields 14-17 (utime, stime, cutime, cstime). The
 * command name (field 2) is in parentheses and may itself hold spaces and ')', so the fields are
 * counted from the last ')'.
 */
export function cpuSecondsOfStat(stat: string, ticks: number): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  if ([utime, stime, cutime, cstime].some((n) => n === undefined || !Number.isFinite(n)))
    throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return (utime! + stime! + cutime! + cstime!) / ticks;
}

/** VmHWM of a /proc/<pid>/status text, in MB. */
export function peakRssMbOfStatus(status: string): number {
  const line = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (!line) throw new Error('no VmHWM line in /proc/<pid>/status');
  return Number(line[1]) / 1024;
}

/** CPU time (with waited-for children, e.g. the agent's journalctl) and peak RSS of a live process. */
export function processCost(pid: number): ProcessCost {
  return {
    cpuSeconds: cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), ticksPerSecond()),
    peakRssMb: peakRssMbOfStatus(readFileSync(`/proc/${pid}/status`, 'utf8')),
  };
}
