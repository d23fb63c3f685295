/**
 * The watch: one probe session for the host, a case per WebAssembly runtime.
 * Runtimes running at start are found by one pass over /proc; runtimes
 * started later by the kernel's exec events. Each is followed with its
 * descendants and judged on its own; its report comes when it exits, or when
 * the watch ends. Everything it keeps is bounded, and a runtime that has
 * exited is forgotten once its report is out.
 *
 *   const w = watch({ runtimes: ['node', 'workerd'], outputDir: '/var/lib/wasmshark' });
 *   w.on('alert', (a, rt) => console.log(rt.runtime.name, rt.pid, a.level, a.title));
 *   w.on('report', (r, rt, file) => console.log(rt.pid, r.verdict, file));
 *   ...
 *   await w.stop();
 */
import { EventEmitter } from 'events';
import type { Alert, Level } from './alerts';
import { Case, readCmdline, reportUser, type CappedCounts, type CaseLimits, type SessionFacts } from './case';
import type { ExecEvent, KernelEvent, RuntimeEvent } from './events';
import type { DropCounts, Probes, SyscallHooks } from './probes';
import { readLinkOr } from './proc/read';
import { isLiveStat, readStat } from './proc/stat';
import { ReportQueue, type QueuedReport } from './report/queue';
import type { EndReason, Report } from './report';
import { RuleSet } from './rules';
import { ancestors, identifyProcess, LibraryScan, Rescan, RuntimeSelection, scanHost } from './runtime/discover';
import { identifyRuntime, type RuntimeInfo } from './runtime/identify';
import type { Verdict } from './score';
import { checkPid, checkSyscalls, checkTimeout, normalizeSession, ProbeSession, type NormalizedSession, type SessionOptions } from './session';
import { ProcSource } from './sources/proc/source';
import { identityFor, processUser, type FileOwner, type UserIdentity } from './user';

export interface WatchLimits extends CaseLimits {
  /** Runtimes followed at once; more are counted, not followed. */
  runtimes: number;
  /** Processes (runtimes and their descendants) the watch attributes events to. */
  processes: number;
  /** Reports waiting to be written to outputDir. */
  pendingReports: number;
}

/*
 * Per case, the report lists at most 1,000 children and connections anyway;
 * with 128 runtimes at their limits the watch holds some tens of MB at worst.
 */
export const DEFAULT_WATCH_LIMITS: Readonly<WatchLimits> = Object.freeze({
  runtimes: 128,
  processes: 65536,
  pendingReports: 256,
  children: 1000,
  connections: 1000,
  alerts: 1000,
  handles: 4096,
});

export interface WatchOptions extends SessionOptions {
  /** 'lean' (default) or 'exact' syscall hooks (see ProbeOptions.syscalls). */
  syscalls?: SyscallHooks;
  /** Runtimes to follow by name (see KNOWN_RUNTIMES), or 'all' (the default unless `pids` are given). */
  runtimes?: readonly string[] | 'all';
  /** Processes to follow as well, whatever they run; each is judged on its own. */
  pids?: readonly number[];
  /** Seconds to watch; 0 (default) until stop(). */
  timeout?: number;
  /** Write each runtime's report here as <pid>-<starttime>.json (atomically, 0600). */
  outputDir?: string;
  /** Whose the report files are (under sudo, the invoking user: see sudoOwner); default this process's user. */
  reportOwner?: FileOwner | null;
  /** Without the kernel's exec events: how often /proc is scanned for new runtimes (default 1000 ms). */
  rescanIntervalMs?: number;
  /**
   * How often running programs are looked at for a runtime library they
   * loaded since (Python importing wasmtime), in ms (default 2000; 0: never).
   */
  libraryScanIntervalMs?: number;
  limits?: Partial<WatchLimits>;
}

/** How a runtime came to be followed. */
export type FoundBy = 'scan' | 'exec' | 'rescan' | 'pid' | 'library';

/** A followed runtime, as the watch's events describe it. */
export interface WatchedRuntime {
  pid: number;
  /** Start time in clock ticks since boot: with the pid, names this process and no other. */
  startTicks: number;
  runtime: RuntimeInfo;
  comm: string;
  exe: string;
  cmdline: string[];
  foundBy: FoundBy;
  /** `<pid>-<starttime>`: the report's file name without .json. */
  id: string;
}

export interface WatchInfo {
  bpf: boolean;
  bpfError: string | null;
  /** 'kernel': runtimes started later are found from exec events; 'rescan': by scanning /proc. */
  execSource: 'kernel' | 'rescan';
  rescanIntervalMs: number;
  selection: string;
  outputDir: string | null;
  /** Followed at start: given by pid, or found running (each also had its 'runtime' event, before this one). */
  runtimes: WatchedRuntime[];
}

export interface WatchStats {
  /** Why the watch ended; null while it runs. */
  reason: EndReason | null;
  execSource: 'kernel' | 'rescan';
  bpf: boolean;
  runtimes: {
    /** Followed now, by runtime name. */
    followed: Record<string, number>;
    /** Found since the start, by '<runtime name> <found by>'. */
    found: Record<string, number>;
  };
  /** Processes events are attributed to now (runtimes and their descendants). */
  processes: number;
  events: { total: number; byKind: Record<string, number>; unattributed: number };
  alerts: Record<Level, number>;
  verdicts: Record<Verdict, number>;
  reports: { written: number; failed: number; pending: number };
  /** Not kept, not followed or not written because a limit was reached. */
  capped: CappedCounts & { runtimes: number; processes: number; reports: number };
  drops: DropCounts | null;
  ringBuffer: {
    /** Its size (null without eBPF). */
    sizeBytes: number | null;
    /** Records taken from it since the start. */
    records: number;
    /** Bytes waiting in it now, where the probes can say (null otherwise). */
    usedBytes: number | null;
  };
}

export interface WatchEvents {
  ready: [WatchInfo];
  runtime: [WatchedRuntime];
  event: [RuntimeEvent, WatchedRuntime];
  alert: [Alert, WatchedRuntime];
  /** A runtime's report; `file` is where it was written (null without outputDir, or if writing failed). */
  report: [Report, WatchedRuntime, string | null];
  warning: [string];
  error: [Error];
  end: [WatchStats];
}

interface Normalized extends NormalizedSession {
  syscalls: SyscallHooks;
  selection: RuntimeSelection;
  pids: number[];
  timeout: number;
  outputDir: string | null;
  reportOwner: FileOwner | null;
  rescanIntervalMs: number;
  libraryScanIntervalMs: number;
  limits: Readonly<WatchLimits>;
}

const DEFAULT_RINGBUF = 8 << 20;

function normalize(options: WatchOptions): Readonly<Normalized> {
  if (typeof options !== 'object' || options === null) throw new TypeError('watch options must be an object');
  // 2 s: with twenty idle runtimes, each 1 s of polling cost the watch ~0.3% CPU more (the probes alone idle at ~0.9% here)
  const syscalls = checkSyscalls(options.syscalls);
  const session = normalizeSession(options, 2000);
  const pids = [...(options.pids ?? [])];
  for (const pid of pids) checkPid(pid);
  const selection = new RuntimeSelection(options.runtimes ?? (pids.length > 0 ? [] : 'all'));
  const rescanIntervalMs = options.rescanIntervalMs ?? 1000;
  if (!Number.isInteger(rescanIntervalMs) || rescanIntervalMs < 10) {
    throw new RangeError(`rescanIntervalMs must be an integer >= 10, got ${String(rescanIntervalMs)}`);
  }
  const libraryScanIntervalMs = options.libraryScanIntervalMs ?? 2000;
  if (!Number.isInteger(libraryScanIntervalMs) || (libraryScanIntervalMs !== 0 && libraryScanIntervalMs < 100)) {
    throw new RangeError(`libraryScanIntervalMs must be 0 (never) or an integer >= 100, got ${String(libraryScanIntervalMs)}`);
  }
  const limits = { ...DEFAULT_WATCH_LIMITS, ...options.limits };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`limits.${k} must be a positive integer, got ${String(v)}`);
  }
  return Object.freeze({
    ...session,
    syscalls,
    selection,
    pids,
    timeout: checkTimeout(options.timeout ?? 0),
    outputDir: options.outputDir ?? null,
    reportOwner: options.reportOwner ?? null,
    rescanIntervalMs,
    libraryScanIntervalMs,
    limits: Object.freeze(limits),
  });
}

/** One followed runtime: its case, its /proc poller, the processes attributed to it. */
interface Followed {
  info: WatchedRuntime;
  case: Case;
  proc: ProcSource;
  pids: Set<number>;
  ending: boolean;
  /** During the case's first /proc pass (what it finds was there before the kernel followed the runtime). */
  firstPass: boolean;
  dropsAtStart: DropCounts | null;
  malformedAtStart: number;
  /** Events of its processes the kernel could not deliver (reported with each exit), and when first seen. */
  lost: number;
  lostFirstMs: number;
  /** It had exited before the watch could follow it: its exec is all that was seen. */
  gone: boolean;
}

/** The user a uid names in the user database (its primary group), null if it has no entry. */
function userOfUid(uid: number): UserIdentity | null {
  try {
    return identityFor(uid);
  } catch {
    return null;
  }
}

/** What the kernel lost while a case was followed; the kernel cannot say whose it was. */
function dropsSince(now: DropCounts, start: DropCounts | null): DropCounts {
  if (!start) return now;
  const byKind = { ...now.byKind };
  for (const k of Object.keys(byKind) as Array<keyof DropCounts['byKind']>) byKind[k] -= start.byKind[k] ?? 0;
  return { byKind, stash: now.stash - start.stash, userspace: now.userspace - start.userspace, total: now.total - start.total };
}

const zeroCapped = () => ({ children: 0, connections: 0, alerts: 0, handles: 0, runtimes: 0, processes: 0, reports: 0 });

/** Every WebAssembly runtime on the host, each judged on its own. */
export class Watch extends EventEmitter<WatchEvents> {
  /** Resolves with the final counters once every report is out and the probes are gone ('end' comes first). */
  readonly done: Promise<WatchStats>;

  private readonly options: Readonly<Normalized>;
  private readonly rules: RuleSet;
  /** The probes (or none), the clock for periodic work, the facts for the reports. */
  private readonly session: ProbeSession;
  private kernelExecs = false;
  private readonly rescan = new Rescan();
  private readonly libraryScan = new LibraryScan();
  private readonly reports: ReportQueue<Followed> | null;
  /** pid -> the runtime it belongs to. */
  private readonly owners = new Map<number, Followed>();
  private readonly cases = new Map<number, Followed>();
  private skip = new Set<number>();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private endReason: EndReason | null = null;
  private ending: Promise<WatchStats> | null = null;
  private resolveDone!: (s: WatchStats) => void;
  private readonly warned = new Set<string>();

  private readonly counts = {
    found: {} as Record<string, number>,
    events: 0,
    byKind: {} as Record<string, number>,
    unattributed: 0,
    alerts: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFO: 0 } as Record<Level, number>,
    verdicts: { MALICIOUS: 0, SUSPICIOUS: 0, POTENTIALLY_UNWANTED: 0, CLEAN: 0 } as Record<Verdict, number>,
    /** Limits reached by cases that have ended, and by the watch itself. */
    capped: zeroCapped(),
  };

  /** Use watch(). */
  constructor(options: WatchOptions) {
    super();
    this.options = normalize(options);
    this.rules = new RuleSet(this.options.rules);
    this.session = new ProbeSession(this.options, {
      onWarning: (w) => this.emit('warning', w),
      onError: (err) => this.error(err),
      onBatch: (events) => this.onBatch(events),
    });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.reports = this.options.outputDir
      ? new ReportQueue<Followed>(
          this.options.outputDir,
          this.options.limits.pendingReports,
          (item, file, error) => this.written(item, file, error),
          this.options.reportOwner,
        )
      : null;
    process.nextTick(() => this.start());
  }

  private start(): void {
    try {
      // the exec events of every process on the host: how runtimes started later are found
      this.kernelExecs = this.session.open({ syscalls: this.options.syscalls, countSyscalls: false, watchExecs: true }) !== null;
      // The watch and whatever started it are never judged.
      this.skip = ancestors();
      this.skip.add(process.pid);
      if (!this.kernelExecs) this.rescan.prime(); // before the scan: what starts during it is found next pass
      const embeddable = this.options.selection.embeddable;
      if (embeddable && this.options.libraryScanIntervalMs > 0) {
        // before the scan, like the rescan: a library loaded during it is found next pass
        this.libraryScan.prime(() => false);
        this.session.clock.every(this.options.libraryScanIntervalMs, () => this.libraryPass());
      }
      if (!this.kernelExecs && !this.options.selection.empty) {
        this.session.clock.every(this.options.rescanIntervalMs, () => this.rescanPass());
      }
      // keeps the process alive, and lets go of processes whose exit was not seen (an exit event lost in a burst)
      this.timers.push(setInterval(() => this.housekeeping(), 30_000));
      if (this.options.timeout > 0) this.timers.push(setTimeout(() => void this.stop('timeout'), this.options.timeout * 1000));
      // The probes are in place first, so a runtime starting during the scan is found one way or the other.
      for (const pid of this.options.pids) this.follow(pid, 'pid', null);
      for (const p of scanHost(this.options.selection, this.skip)) this.follow(p.pid, 'scan', p.runtime);
      this.emit('ready', {
        bpf: this.probes !== null,
        bpfError: this.session.bpfError,
        execSource: this.kernelExecs ? 'kernel' : 'rescan',
        rescanIntervalMs: this.options.rescanIntervalMs,
        selection: this.options.selection.describe(),
        outputDir: this.options.outputDir,
        runtimes: this.runtimes(),
      });
    } catch (err) {
      this.error(err instanceof Error ? err : new Error(String(err)));
      void this.stop('error');
    }
  }

  /** Trouble at run time: an 'error' event. Without a listener it is dropped: one bad report must not end a service. */
  private error(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.emit('warning', message);
  }

  /** Starts following a runtime (or a process given by pid); null if it is gone, followed already, or over the limit. */
  /**
   * Follows a runtime from now on. Given the exec that revealed it, a runtime
   * that has exited already still gets a report: what its exec showed, and
   * coverage saying that is all.
   */
  private follow(pid: number, foundBy: FoundBy, runtime: RuntimeInfo | null, exec?: ExecEvent): Followed | null {
    if (this.stopping || this.owners.has(pid) || this.skip.has(pid)) return null;
    if (this.cases.size >= this.options.limits.runtimes) {
      this.counts.capped.runtimes++;
      this.warnOnce('runtimes', `${this.cases.size} runtimes followed already (the limit); more are counted, not followed`);
      return null;
    }
    const stat = readStat(pid);
    if (!isLiveStat(stat)) return exec ? this.followGone(exec, foundBy, runtime) : null;
    const exe = readLinkOr(`/proc/${pid}/exe`, '');
    const info: WatchedRuntime = {
      pid,
      startTicks: stat.startTicks,
      runtime: runtime ?? identifyProcess(pid, exe),
      comm: stat.comm,
      exe,
      cmdline: readCmdline(pid),
      foundBy,
      id: `${pid}-${stat.startTicks}`,
    };
    if (this.probes) {
      try {
        this.probes.addTarget(pid, stat.startTicks);
      } catch {
        return exec ? this.followGone(exec, foundBy, runtime) : null; // exited since
      }
    }
    const f = this.open(info, processUser(pid), false);
    this.owners.set(pid, f);
    f.proc.on('event', (e) => this.route(f, e));
    f.proc.on('error', (err) => this.error(err));
    f.proc.start();
    f.firstPass = false;
    // Children it had already: the kernel follows only those created from now on.
    if (this.probes && !f.ending) for (const child of f.proc.pids()) if (child !== pid) this.adopt(f, child, true);
    return f;
  }

  /** A case for a runtime, counted and announced ('runtime'); `gone`: it has exited already, nothing more will come. */
  private open(info: WatchedRuntime, user: UserIdentity | null, gone: boolean): Followed {
    const { pid } = info;
    const c = new Case(
      { pid, comm: info.comm, exe: info.exe, cmdline: info.cmdline, launched: false, user: reportUser(user) },
      {
        rules: this.rules,
        procChildren: this.probes === null && !gone,
        limits: this.options.limits,
        onAlert: (a) => this.onAlert(a, info),
        kernelLive: gone ? () => false : () => this.session.kernelLive,
        symbols: this.options.symbols,
      },
    );
    const f: Followed = {
      info,
      case: c,
      proc: new ProcSource(pid, { intervalMs: this.options.pollIntervalMs, followChildren: true, sampleSyscalls: false, kernelFollows: this.probes !== null, clock: this.session.clock }),
      pids: new Set(gone ? [] : [pid]),
      ending: false,
      firstPass: !gone,
      dropsAtStart: this.probes?.drops() ?? null,
      malformedAtStart: this.probes?.malformed ?? 0,
      lost: 0,
      lostFirstMs: 0,
      gone,
    };
    this.cases.set(pid, f);
    const key = `${info.runtime.name} ${info.foundBy}`;
    this.counts.found[key] = (this.counts.found[key] ?? 0) + 1;
    c.begin();
    this.emit('runtime', info);
    return f;
  }

  /** A runtime that exited before it could be followed (it ran for less than the watch took to hear of it): reported from its exec. */
  private followGone(exec: ExecEvent, foundBy: FoundBy, runtime: RuntimeInfo | null): Followed {
    const { pid } = exec;
    const exe = exec.image || exec.filename;
    const info: WatchedRuntime = {
      pid,
      startTicks: 0,
      runtime: runtime ?? identifyRuntime(exe),
      comm: exec.comm,
      exe,
      cmdline: exec.argv,
      foundBy,
      // no start time to be had: the exec's kernel timestamp names it instead
      id: `${pid}-exec${exec.timeNs}`,
    };
    const f = this.open(info, processUser(pid) ?? userOfUid(exec.uid), true);
    // its exec is what made it a target (as for a runtime followed in time): its report says who it was
    this.end(f, 'target-exit');
    return f;
  }

  /** Attributes a descendant's events to its runtime (and, if asked, has the kernel follow it). */
  private adopt(f: Followed, pid: number, addToKernel: boolean): void {
    if (this.owners.has(pid)) return;
    if (this.owners.size >= this.options.limits.processes) {
      this.counts.capped.processes++;
      this.warnOnce('processes', `${this.owners.size} processes followed already (the limit); events of more are counted as unattributed`);
      return;
    }
    if (addToKernel) {
      try {
        this.probes?.addTarget(pid);
      } catch {
        return; // gone already
      }
    }
    this.owners.set(pid, f);
    f.pids.add(pid);
  }

  private onAlert(a: Alert, info: WatchedRuntime): void {
    this.counts.alerts[a.level]++;
    this.emit('alert', a, info);
  }

  private onBatch(events: KernelEvent[]): void {
    for (const e of events) {
      const f = this.owners.get(e.pid) ?? this.ownerOf(e);
      if (!f) continue;
      f.proc.poke(); // it is doing something: its /proc passes come at full pace
      this.route(f, e);
    }
  }

  /** An event of a process with no runtime attributed: a new runtime's exec, or a descendant not yet known. */
  private ownerOf(e: KernelEvent): Followed | undefined {
    if (e.kind === 'exec' && e.host) {
      if (e.ok) this.onHostExec(e);
      return undefined;
    }
    if (this.probes?.hasTargetNow(e.pid)) {
      // followed by the kernel, but its fork was not seen (lost in a burst, or beyond the limit): walk up to its runtime
      let stat = readStat(e.pid);
      for (let i = 0; stat && i < 64; i++) {
        const f = this.owners.get(stat.ppid);
        if (f && !f.ending) {
          this.adopt(f, e.pid, false);
          if (this.owners.get(e.pid) !== f) break;
          f.proc.addPid(e.pid);
          return f;
        }
        stat = readStat(stat.ppid);
      }
      this.counts.unattributed++;
      // nobody's: the kernel need not follow it any longer
      if (e.kind !== 'exit') this.unfollow(e.pid);
    }
    return undefined;
  }

  /** A process that nobody follows exec'd (the kernel reports every exec on the host): is it a runtime? */
  private onHostExec(e: ExecEvent): void {
    if (this.stopping || this.skip.has(e.pid)) return;
    const exe = readLinkOr(`/proc/${e.pid}/exe`, '') || e.image;
    // no mappings: at exec the new image's libraries are not loaded yet
    const info = identifyRuntime(exe);
    if (this.options.selection.wants(info)) this.follow(e.pid, 'exec', info, e);
  }

  private rescanPass(): void {
    if (this.stopping) return;
    this.rescan.pass((pid, exe) => {
      if (this.owners.has(pid) || this.skip.has(pid)) return;
      const info = identifyRuntime(exe);
      if (this.options.selection.wants(info)) this.follow(pid, 'rescan', info);
    });
  }

  private libraryPass(): void {
    if (this.stopping) return;
    this.libraryScan.pass(
      (pid) => this.owners.has(pid) || this.skip.has(pid),
      (pid, _exe, runtime) => {
        if (this.options.selection.wants(runtime)) this.follow(pid, 'library', runtime);
      },
    );
  }

  private route(f: Followed, e: RuntimeEvent): void {
    // after its report: nothing more counts (the last /proc pass, while ending, still does)
    if (f.ending && !this.cases.has(f.info.pid)) return;
    this.counts.events++;
    this.counts.byKind[e.kind] = (this.counts.byKind[e.kind] ?? 0) + 1;
    if (e.kind === 'fork' && !e.thread && !f.ending) {
      // The kernel follows the child from its fork; its events are in flight even if it is gone already.
      this.adopt(f, e.childPid, false);
      // Gone, the kernel dropped it, and its pid may belong to someone else by now: not for /proc.
      if (this.probes?.hasTargetNow(e.childPid)) f.proc.addPid(e.childPid);
    }
    // what the kernel saw change, /proc looks at again
    if (e.kind === 'exec' && e.ok) f.proc.execd(e.pid);
    else if ((e.kind === 'mmap' || e.kind === 'mprotect') && e.ok) f.proc.mapped(e.pid);
    // a descendant the first /proc pass found that the kernel does not follow: it began before its runtime was
    // followed (one the kernel follows was forked since: its own events are on their way)
    if (e.kind === 'process' && f.firstPass && this.probes && !this.probes.hasTargetNow(e.pid)) f.case.judgeFromProc(e.pid);
    if (this.listenerCount('event') > 0) this.emit('event', e, f.info);
    f.case.handle(e);
    if (e.kind === 'exit' && (e.dropped ?? 0) > 0) this.blinded(f, e.dropped!);
    if (e.kind === 'exit' || e.kind === 'target-exit') {
      if (e.pid === f.info.pid) this.end(f, 'target-exit');
      else if (e.kind === 'exit') {
        this.owners.delete(e.pid);
        f.pids.delete(e.pid);
      }
    }
  }

  /**
   * The kernel lost events of this runtime's processes (a flood fills the ring
   * buffer): monitor.blinded on its case. Counted per process, so a runtime
   * that floods does not blind the others' verdicts.
   */
  private blinded(f: Followed, dropped: number): void {
    const now = Date.now();
    f.lost += dropped;
    if (f.lostFirstMs === 0) f.lostFirstMs = now;
    // counted per process, not per kind: every kind zero, the total the process's
    const byKind = Object.fromEntries(Object.keys(f.dropsAtStart?.byKind ?? {}).map((k) => [k, 0])) as DropCounts['byKind'];
    const drops: DropCounts = { byKind, stash: 0, userspace: 0, total: f.lost };
    for (const finding of this.rules.blinded(drops, f.info.pid, f.lostFirstMs, now)) f.case.measure(finding, f.lost, now);
  }

  private unfollow(pid: number): void {
    try {
      if (this.probes?.hasTargetNow(pid)) this.probes.removeTarget(pid);
    } catch {
      // gone, or the probes are stopping
    }
  }

  /** Ends one runtime's case: a last /proc look, its report, and then it is forgotten. */
  private end(f: Followed, reason: EndReason): void {
    if (f.ending) return;
    f.ending = true;
    try {
      f.proc.scanNow();
    } catch {
      // gone: what was seen stands
    }
    f.proc.stop();
    f.proc.removeAllListeners();
    for (const pid of f.pids) {
      if (this.owners.get(pid) === f) this.owners.delete(pid);
      if (!this.stopping) this.unfollow(pid); // descendants still running are no one's now
    }
    this.cases.delete(f.info.pid);
    const capped = f.case.cappedCounts();
    for (const k of Object.keys(capped) as Array<keyof CappedCounts>) this.counts.capped[k] += capped[k];
    const report = f.case.report(reason, this.factsFor(f));
    this.counts.verdicts[report.verdict]++;
    if (!this.reports) {
      this.emit('report', report, f.info, null);
      return;
    }
    if (!this.reports.push({ report, name: `${f.info.id}.json`, tag: f })) {
      this.counts.capped.reports++;
      this.warnOnce('reports', `${this.options.limits.pendingReports} reports waiting to be written (the limit); more are not written`);
      this.emit('report', report, f.info, null);
    }
  }

  private written(item: QueuedReport<Followed>, file: string | null, error: Error | null): void {
    if (error) this.error(new Error(`cannot write report ${item.name} to ${this.options.outputDir}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    this.emit('report', item.report, item.tag.info, file);
  }

  private factsFor(f: Followed): SessionFacts {
    // the kernel counts syscalls for the session, not per runtime: none per case
    return this.session.facts({
      drops: this.probes ? dropsSince(this.probes.drops(), f.dropsAtStart) : null,
      malformed: (this.probes?.malformed ?? 0) - f.malformedAtStart,
      gaps: f.gone ? ['it exited before the watch could follow it: only its exec was seen'] : [],
    });
  }

  private get probes(): Probes | null {
    return this.session.probes;
  }

  private housekeeping(): void {
    for (const [pid, f] of this.owners) {
      if (pid !== f.info.pid && !isLiveStat(readStat(pid))) {
        this.owners.delete(pid);
        f.pids.delete(pid);
      }
    }
  }

  /** The ring buffer's fill; null without eBPF. */
  private ringBufferUsed(): number | null {
    return this.probes ? this.probes.ringBufferUsedBytes() : null;
  }

  /** The runtimes followed now. */
  runtimes(): WatchedRuntime[] {
    return [...this.cases.values()].map((f) => f.info);
  }

  /** Counters for metrics: cheap, read as often as wanted. */
  stats(): WatchStats {
    const followed: Record<string, number> = {};
    const capped = { ...this.counts.capped };
    for (const f of this.cases.values()) {
      followed[f.info.runtime.name] = (followed[f.info.runtime.name] ?? 0) + 1;
      const c = f.case.cappedCounts();
      for (const k of Object.keys(c) as Array<keyof CappedCounts>) capped[k] += c[k];
    }
    return {
      reason: this.endReason,
      execSource: this.kernelExecs ? 'kernel' : 'rescan',
      bpf: this.probes !== null,
      runtimes: { followed, found: { ...this.counts.found } },
      processes: this.owners.size,
      events: { total: this.counts.events, byKind: { ...this.counts.byKind }, unattributed: this.counts.unattributed },
      alerts: { ...this.counts.alerts },
      verdicts: { ...this.counts.verdicts },
      reports: { written: this.reports?.written ?? 0, failed: this.reports?.failed ?? 0, pending: this.reports?.size ?? 0 },
      capped,
      drops: this.probes ? this.probes.drops() : null,
      ringBuffer: {
        sizeBytes: this.probes ? (this.options.ringBufferBytes ?? DEFAULT_RINGBUF) : null,
        records: this.probes ? this.probes.delivered + this.probes.malformed : 0,
        usedBytes: this.ringBufferUsed(),
      },
    };
  }

  /** Ends the watch: every runtime still followed gets its report. Safe to call more than once. */
  stop(reason: EndReason = 'stopped'): Promise<WatchStats> {
    if (!this.ending) this.ending = Promise.resolve().then(() => this.finish(reason));
    return this.ending;
  }

  private async finish(reason: EndReason): Promise<WatchStats> {
    this.stopping = true;
    this.endReason = reason;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    // what the kernel still holds reaches the cases first; the detach (a grace period per tracepoint) finishes meanwhile
    const { detached } = await this.session.drain();
    for (const f of [...this.cases.values()]) this.end(f, reason);
    this.reports?.flush();
    const stats = this.stats();
    this.emit('end', stats);
    await detached;
    this.resolveDone(stats);
    return stats;
  }
}

/** Watch every WebAssembly runtime on the host. Throws on bad options (a pid that does not exist, an unknown runtime name). */
export function watch(options: WatchOptions = {}): Watch {
  return new Watch(options);
}
