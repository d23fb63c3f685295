/**
 * /proc/PID/stat: the fields wasmshark needs, parsed without trusting comm
 * (it may contain spaces and parentheses: the fields start after the last ')').
 */
import * as fs from 'fs';

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie), T, X, ... */
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot (field 22). */
  startTicks: number;
}

export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const startTicks = Number(rest[19]);
  if (!Number.isSafeInteger(pid) || !state || !Number.isSafeInteger(ppid) || !Number.isSafeInteger(startTicks)) {
    return null;
  }
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTicks };
}

/** The process's stat, or null if it does not exist (or is unreadable). */
export function readStat(pid: number): ProcStat | null {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** True while the process exists and has not exited (zombies count as exited). */
export function isAlive(pid: number): boolean {
  return isLiveStat(readStat(pid));
}

/** isAlive for a stat already read, so a caller can also use its ppid and start time. */
export function isLiveStat(stat: ProcStat | null): stat is ProcStat {
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}
