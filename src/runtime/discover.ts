/**
 * Finding the WebAssembly runtimes on a host: which processes the watch
 * wants, one pass over /proc at start, and the /proc rescan used only when
 * the kernel does not report execs of processes nobody follows.
 */
import { parseMaps } from '../proc/parse';
import { listPids, MAPS_BYTES, readBounded, readLinkOr } from '../proc/read';
import { readStat } from '../proc/stat';
import { identifyRuntime, KNOWN_RUNTIMES, type RuntimeInfo } from './identify';
import { runtimeEntry } from './registry';

/** Which runtimes to follow: by name, or every one wasmshark knows. */
export class RuntimeSelection {
  private readonly names: ReadonlySet<string>;

  constructor(which: readonly string[] | 'all') {
    if (which !== 'all') {
      for (const n of which) if (!KNOWN_RUNTIMES.includes(n)) throw new RangeError(`unknown runtime '${n}' (known: ${KNOWN_RUNTIMES.join(', ')})`);
    }
    this.names = new Set(which === 'all' ? KNOWN_RUNTIMES : which);
  }

  wants(info: RuntimeInfo): boolean {
    return this.names.has(info.name);
  }

  get empty(): boolean {
    return this.names.size === 0;
  }

  /** Whether a runtime it wants can be embedded in another program as a library. */
  get embeddable(): boolean {
    return [...this.names].some((n) => (runtimeEntry(n)?.libraries.length ?? 0) > 0);
  }

  describe(): string {
    return this.names.size === KNOWN_RUNTIMES.length ? `all known (${KNOWN_RUNTIMES.join(', ')})` : [...this.names].join(', ') || 'none';
  }
}

const MAX_PROCESSES = 1 << 22;
const MAX_MAP_ENTRIES = 65536;

/** Pids of processes that started this one (its launcher: sudo, npm, a shell): never judged. */
export function ancestors(pid = process.pid): Set<number> {
  const out = new Set<number>();
  let stat = readStat(pid);
  for (let i = 0; stat && stat.ppid > 1 && i < 64; i++) {
    out.add(stat.ppid);
    stat = readStat(stat.ppid);
  }
  return out;
}

/**
 * The runtime a running process is: by its executable first, then (for one
 * that is not a known runtime's) by the runtime libraries it has mapped.
 */
export function identifyProcess(pid: number, exe: string): RuntimeInfo {
  const byExe = identifyRuntime(exe);
  if (byExe.name !== 'unknown' && byExe.name !== 'go') return byExe;
  try {
    const maps = parseMaps(readBounded(`/proc/${pid}/maps`, MAPS_BYTES).toString('utf8'), MAX_MAP_ENTRIES);
    return identifyRuntime(exe, maps);
  } catch {
    return byExe; // gone, or not ours to read
  }
}

export interface FoundProcess {
  pid: number;
  exe: string;
  runtime: RuntimeInfo;
}

/** One pass over /proc: every process running a selected runtime, except those in `skip`. */
export function scanHost(selection: RuntimeSelection, skip: ReadonlySet<number>): FoundProcess[] {
  const found: FoundProcess[] = [];
  if (selection.empty) return found;
  for (const pid of listPids('/proc', MAX_PROCESSES)) {
    if (skip.has(pid)) continue;
    const exe = readLinkOr(`/proc/${pid}/exe`, '');
    if (!exe) continue; // a kernel thread, gone, or not ours to read
    const runtime = identifyProcess(pid, exe);
    if (selection.wants(runtime)) found.push({ pid, exe, runtime });
  }
  return found;
}

/**
 * Without the kernel's exec events, new runtimes are found by looking again:
 * each pass lists /proc and identifies what is new or has exec'd since the
 * last pass (its executable changed). Only the executable is looked at, so
 * a runtime library loaded by another program is not recognised here.
 */
export class Rescan {
  private seen = new Map<number, string>();

  /** Remembers the host as it is now, so the first pass reports only what comes later. */
  prime(): void {
    this.pass(() => undefined);
  }

  pass(onNew: (pid: number, exe: string) => void): void {
    const now = new Map<number, string>();
    for (const pid of listPids('/proc', MAX_PROCESSES)) {
      const exe = readLinkOr(`/proc/${pid}/exe`, '');
      now.set(pid, exe);
      if (exe && this.seen.get(pid) !== exe) onNew(pid, exe);
    }
    this.seen = now;
  }
}

/** VmLib of /proc/PID/status in kB (the code of the libraries it has mapped), or null if unreadable. */
function libraryCodeKb(pid: number): number | null {
  try {
    const m = /\nVmLib:\s+(\d+) kB/.exec(readBounded(`/proc/${pid}/status`, 8192).toString('latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Runtimes loaded as a library by a program that is already running (Python
 * importing wasmtime, a Go or C host opening libwasmtime): its exec said
 * nothing, and the kernel reports mappings only of processes followed. Each
 * pass reads /proc/PID/status of every process, and its maps only when the
 * size of its library code has changed since the last pass: a new library.
 */
export class LibraryScan {
  private libKb = new Map<number, number>();

  /** Remembers the host as it is now (what runs now was judged by the scan at start). */
  prime(skip: (pid: number) => boolean): void {
    this.pass(skip, () => undefined);
  }

  pass(skip: (pid: number) => boolean, onLoaded: (pid: number, exe: string, runtime: RuntimeInfo) => void): void {
    const now = new Map<number, number>();
    for (const pid of listPids('/proc', MAX_PROCESSES)) {
      const kb = libraryCodeKb(pid);
      if (kb === null) continue; // a kernel thread, gone, or not ours to read
      now.set(pid, kb);
      const before = this.libKb.get(pid);
      if (before === kb || skip(pid)) continue;
      const exe = readLinkOr(`/proc/${pid}/exe`, '');
      if (!exe || identifyRuntime(exe).name !== 'unknown') continue; // a runtime by its executable is found by its exec
      try {
        const maps = parseMaps(readBounded(`/proc/${pid}/maps`, MAPS_BYTES).toString('utf8'), MAX_MAP_ENTRIES);
        const runtime = identifyRuntime(exe, maps);
        if (runtime.embedder) onLoaded(pid, exe, runtime);
      } catch {
        // gone
      }
    }
    this.libKb = now;
  }
}
