/**
 * A case: one judged target and its descendants. Events in, alerts out as
 * they are raised, and the report at the end. It holds the judgement state
 * (the rules' context, the assessment, children, connections, memfd names,
 * the mappings and runtimes of its processes) and nothing of the probes or
 * of /proc polling: the session that feeds it decides what it sees, so one
 * probe session can feed many cases (the watch) or one (monitor(pid)).
 */
import type { Alert, Finding } from './alerts';
import { Assessment } from './assessment';
import { assessCoverage, type KernelFacts } from './coverage';
import * as path from 'path';
import { PROT_EXEC, type ExecEvent, type ProcRwxEvent, type RuntimeEvent, type UserStack } from './events';
import type { DropCounts, SyscallHooks } from './probes';
import { readArgv, readLinkOr } from './proc/read';
import {
  reportAlert,
  reportScoreBreakdown,
  truncate,
  SCHEMA_VERSION,
  type EndReason,
  type Report,
  type ReportChild,
  type ReportConnection,
  type ReportUser,
} from './report';
import { connectionKey, outboundFromConnect, outboundFromProc, type Outbound, type RuleSet } from './rules';
import { MapsCache } from './runtime/callsite';
import { isFfiClosurePage } from './runtime/codegen';
import { libraryEntry } from './runtime/registry';
import { identifyRuntime, type RuntimeInfo } from './runtime/identify';
import { verdict } from './score';
import { mapNote, removeJitMaps, Symbolizer, type Origin } from './symbols/origin';
import { syscallName } from './syscalls';
import type { UserIdentity } from './user';
import { VERSION } from './version';

export interface CaseLimits {
  /** Children recorded for the report; a fork storm keeps the first ones. */
  children: number;
  /** Distinct outbound endpoints recorded. */
  connections: number;
  /** Distinct alerts kept (a rule not seen yet always gets in; see AlertBook). */
  alerts: number;
  /** memfd names remembered (to name the memfd a fileless exec ran from), and listening sockets. */
  handles: number;
}

export const DEFAULT_CASE_LIMITS: Readonly<CaseLimits> = Object.freeze({ children: 10000, connections: 10000, alerts: 1000, handles: 4096 });

export interface CaseTarget {
  pid: number;
  comm: string;
  exe: string;
  cmdline: string[];
  /** Started by wasmshark (launch mode): its first exec is the command starting, not a child. */
  launched: boolean;
  /** Who it runs as (in launch mode, who it is started as); null if it could not be read. */
  user: ReportUser | null;
}

export interface CaseOptions {
  rules: RuleSet;
  /** Children found by polling /proc are judged (true when no kernel probes feed this case). */
  procChildren: boolean;
  limits?: Partial<CaseLimits>;
  onAlert: (alert: Alert) => void;
  /**
   * Whether kernel events may still be on their way: an RWX region from /proc
   * then waits for them (see handle). Absent: no kernel feeds this case.
   */
  kernelLive?: () => boolean;
  /** Name the code behind each alert from the kernel's user stacks (default true). */
  symbols?: boolean;
}

/** What the session feeding a case knows and the case cannot: how it saw, what it lost. */
export interface SessionFacts {
  bpf: boolean;
  bpfError: string | null;
  syscalls: { source: Report['syscalls']['source']; counts: Map<number, number> };
  drops: DropCounts | null;
  malformed: number;
  /** The syscall hooks in use and the programs attached (for the report's coverage). */
  syscallMode: SyscallHooks | null;
  hooks: string[];
  kernel: KernelFacts | null;
  pollIntervalMs: number;
  /** Why coverage is partial beyond what the other facts say (e.g. a runtime gone before it was followed). */
  gaps?: string[];
}

/** Items not kept because a limit was reached: counted, so a report says what it lacks. */
export interface CappedCounts {
  children: number;
  connections: number;
  alerts: number;
  handles: number;
}

/** The target's command line for the report: 64 arguments, long ones cut with a marker. */
export function readCmdline(pid: number): string[] {
  return readArgv(pid, 64, Infinity).map((a) => truncate(a, 1024));
}

export function readExe(pid: number): string {
  return readLinkOr(`/proc/${pid}/exe`, '');
}

/** A user as the report shows it. */
export function reportUser(u: UserIdentity | null): ReportUser | null {
  return u && { uid: u.uid, gid: u.gid, name: u.name, groups: [...u.groups] };
}

/** How long an RWX region from /proc waits for the kernel's record of it: well over the reader's 10 ms poll. */
const REGION_SETTLE_MS = 100;
/** RWX regions waiting at most (a hostile target mapping thousands cannot grow the queue without bound). */
const MAX_DEFERRED_REGIONS = 4096;

export class Case {
  readonly pid: number;
  readonly target: CaseTarget & { exitCode: number | null; exitSignal: number | null };
  /** Epoch milliseconds the case began (reset by begin()). */
  startedAt = Date.now();

  private readonly rules: RuleSet;
  private readonly procChildren: boolean;
  private readonly limits: Readonly<CaseLimits>;
  private readonly onAlert: (alert: Alert) => void;
  private readonly kernelLive: () => boolean;
  private readonly assessment: Assessment;
  /** RWX regions from /proc waiting for the kernel's events up to the scan (see handle), with their process's runtime. */
  private regionsToJudge: Array<{ region: ProcRwxEvent; runtime: RuntimeInfo | null }> = [];
  private regionTimer: NodeJS.Timeout | null = null;
  private launchExecSeen = false;
  private readonly children = new Map<number, ReportChild>();
  private readonly connections = new Map<string, ReportConnection>();
  /** pid -> 'protocol:port' of its listening sockets: an accepted connection is not outbound. */
  private readonly listening = new Map<number, Set<string>>();
  /** pid -> fd -> memfd name. */
  private readonly memfdNames = new Map<number, Map<number, string>>();
  private handles = 0;
  private readonly maps = new MapsCache();
  /** Names the frames of the stacks behind alerts; null with symbols off. */
  private readonly symbols: Symbolizer | null;
  /** child pid -> where its parent made it (the fork's stack), for the child's exec. */
  private readonly forkStacks = new Map<number, { pid: number; stack: UserStack }>();
  private readonly runtimes = new Map<number, RuntimeInfo | null>();
  /**
   * pid -> the command line of the image it was last judged running: the
   * kernel's exec and a /proc pass (or two kernel records of one exec, one
   * from before the process was followed) describe one exec, judged once.
   */
  private readonly judgedImages = new Map<number, string>();
  private readonly eventCounts: Record<string, number> = {};
  private eventTotal = 0;
  private readonly capped: CappedCounts = { children: 0, connections: 0, alerts: 0, handles: 0 };
  /** Descendants the kernel did not see start: their image, as /proc shows it, is judged. */
  private readonly fromProc = new Set<number>();

  constructor(target: CaseTarget, options: CaseOptions) {
    this.pid = target.pid;
    this.target = { ...target, exitCode: null, exitSignal: null };
    this.rules = options.rules;
    this.procChildren = options.procChildren;
    this.limits = Object.freeze({ ...DEFAULT_CASE_LIMITS, ...options.limits });
    this.onAlert = options.onAlert;
    this.kernelLive = options.kernelLive ?? (() => false);
    this.assessment = new Assessment(this.limits.alerts);
    this.symbols = options.symbols === false ? null : new Symbolizer(this.maps);
  }

  /** Monitoring of this target starts now (the duration counts from here). */
  begin(): void {
    this.startedAt = Date.now();
  }

  /** The target's exit status, when it is known another way than from an event. */
  noteExit(code: number | null, signal: number | null): void {
    if (this.target.exitCode === null && this.target.exitSignal === null) {
      this.target.exitCode = code;
      this.target.exitSignal = signal;
    }
  }

  /** The target's runtime: from its mappings while it runs, else from its executable. */
  runtime(): RuntimeInfo {
    return this.runtimeOf(this.pid) ?? identifyRuntime(this.target.exe);
  }

  /** Alerts so far, most severe first. */
  alerts(): Alert[] {
    return this.assessment.alerts();
  }

  get events(): number {
    return this.eventTotal;
  }

  /**
   * A descendant that was running before the kernel followed it (it started
   * in the moment between its runtime's exec and the watch following that
   * runtime): what /proc shows it running is judged like a child seen starting.
   */
  judgeFromProc(pid: number): void {
    if (this.fromProc.size < this.limits.children) this.fromProc.add(pid);
  }

  /** Judges one event of the target or one of its descendants. */
  handle(e: RuntimeEvent): void {
    this.eventTotal++;
    this.eventCounts[e.kind] = (this.eventCounts[e.kind] ?? 0) + 1;

    switch (e.kind) {
      case 'fork':
        if (!e.thread) this.noteChild({ pid: e.childPid, ppid: e.pid, program: '', argv: [], exit_code: null, signal: null });
        if (!e.thread && e.userStack && this.symbols) {
          if (this.forkStacks.size >= this.limits.handles) this.forkStacks.delete(this.forkStacks.keys().next().value!);
          this.forkStacks.set(e.childPid, { pid: e.pid, stack: e.userStack });
        }
        return;
      case 'exit':
        // every event of the process is in (its exit comes last): its waiting regions can be judged, while it is known
        if (this.regionsToJudge.length > 0) this.settle();
        if (e.pid === this.pid) {
          this.target.exitCode = e.exitCode;
          this.target.exitSignal = e.signal;
        } else {
          const c = this.children.get(e.pid);
          if (c) Object.assign(c, { exit_code: e.exitCode, signal: e.signal });
          this.forget(e.pid);
          this.fromProc.delete(e.pid);
        }
        return;
      case 'target-exit':
        return;
      case 'memfd':
        if (e.ok) this.noteMemfd(e.pid, e.result, e.name);
        break;
      case 'mmap':
        // new code in the process (a library, a JIT region): cached mappings no longer tell all
        if (e.ok) this.maps.mapped(e.pid, { ...e, start: e.result });
        // a runtime library loaded into a program: the program is that runtime's embedder from now on
        if (e.ok && e.file && e.prot & PROT_EXEC && libraryEntry(path.basename(e.file.path))) {
          this.runtimes.delete(e.pid);
          this.runtimeOf(e.pid); // now, while the process and its mappings are there to read
        }
        break;
      case 'exec':
        if (e.ok) {
          this.runtimes.delete(e.pid);
          this.maps.invalidate(e.pid);
          if (this.judgedBefore(e.pid, e.argv)) return;
        }
        if (e.ok && e.pid !== this.pid) {
          // counted at its fork already if it did not fit
          const c = this.children.get(e.pid) ?? this.noteChild({ pid: e.pid, ppid: e.ppid, program: '', argv: [], exit_code: null, signal: null }, false);
          c.program = truncate(e.image || e.filename, 1024);
          c.argv = e.argv;
        }
        break;
      case 'process':
        if ((this.procChildren || this.fromProc.has(e.pid)) && !this.children.has(e.pid)) {
          this.noteChild({ pid: e.pid, ppid: e.ppid, program: truncate(e.exe, 1024), argv: e.argv, exit_code: null, signal: null });
        }
        if ((this.procChildren || this.fromProc.has(e.pid)) && this.judgedBefore(e.pid, e.argv)) return;
        break;
      case 'connection': {
        if (e.state === 'LISTEN') this.noteListening(e.pid, `${e.protocol}:${e.localPort}`);
        const out = outboundFromProc(e, this.listening.get(e.pid)?.has(`${e.protocol}:${e.localPort}`) === true);
        if (out) this.onOutbound(out);
        return;
      }
      case 'connect': {
        const out = outboundFromConnect(e);
        if (out) {
          this.onOutbound(out, e);
          return;
        }
        break; // AF_UNIX and others: the rules look at the path
      }
      case 'rwx-region':
        // The kernel reports how a region was made, but its record can still be on its way
        // (wake-ups are batched, up to 10 ms): judged from /proc alone meanwhile, the same
        // region would count twice. So judge it once the kernel's events have caught up.
        if (this.kernelLive()) {
          this.deferRegion(e);
          return;
        }
        break;
    }
    this.judge(e);
  }

  private deferRegion(e: ProcRwxEvent): void {
    // its runtime now, while /proc still shows the process: it may be gone by the time the region is judged
    if (this.regionsToJudge.length < MAX_DEFERRED_REGIONS) this.regionsToJudge.push({ region: e, runtime: this.runtimeOf(e.pid) });
    this.regionTimer ??= setTimeout(() => this.settle(), REGION_SETTLE_MS);
  }

  /** Judges the RWX regions still waiting for the kernel's events (every event is in: the session has drained). */
  settle(): void {
    if (this.regionTimer) clearTimeout(this.regionTimer);
    this.regionTimer = null;
    const regions = this.regionsToJudge;
    this.regionsToJudge = [];
    for (const r of regions) this.judge(r.region, r.runtime);
  }

  /**
   * A finding whose count is measured rather than counted (events the kernel
   * lost so far, monitor.blinded): raised once, restated after.
   */
  measure(f: Finding, count: number, now = Date.now()): void {
    const alert = this.assessment.set(f, count, now);
    if (alert) this.onAlert(alert);
  }

  /** `runtime`: the event's process's runtime, when it was taken earlier. */
  private judge(e: RuntimeEvent, runtime?: RuntimeInfo | null): void {
    const findings = this.rules.evaluate(e, {
      procChildren: this.procChildren || (e.kind === 'process' && this.fromProc.has(e.pid)),
      isLaunchExec: (x) => this.isLaunchExec(x),
      memfdName: (pid, fd) => this.memfdNames.get(pid)?.get(fd),
      runtime: (pid) => (runtime !== undefined && pid === e.pid ? runtime : this.runtimeOf(pid)),
      callSite: (pid, ip, stack) => this.maps.callSite(pid, ip, stack),
      kernelSawRegion: (pid, start, end) => this.assessment.kernelSawRegion(pid, start, end),
      mappedElf: (pid, addr) => this.maps.elfAt(pid, addr),
      ffiClosurePage: (pid, region) => isFfiClosurePage(pid, region, this.maps.maps(pid)),
      // a child gone already is still known by its exec
      commandLine: (pid) => {
        const now = readArgv(pid, 8, 127);
        return now.length > 0 ? now : (this.children.get(pid)?.argv ?? []);
      },
    });
    const length = e.kind === 'mmap' || e.kind === 'mprotect' ? e.length : 0;
    for (const f of findings) this.addFinding(f, length, e);
  }

  /**
   * Where the event came from in its process, named. An exec's stack is the
   * one the process had before it: a child's is the copy of its parent's
   * it was forked with, so its parent's mappings and JIT map name it.
   */
  private origin(e: RuntimeEvent): Origin | undefined {
    if (!this.symbols || !('userStack' in e) || !e.userStack) return undefined;
    const pid = e.kind === 'exec' && this.children.has(e.pid) ? e.ppid : e.pid;
    try {
      const origin = this.symbols.resolve(pid, e.userStack, this.runtimeOf(pid)?.name ?? null);
      // a child started by posix_spawn execs on a stack of its own: where its parent made it says more
      const fork = e.kind === 'exec' ? this.forkStacks.get(e.pid) : undefined;
      if (origin.wasm || !fork) return origin;
      const made = this.symbols.resolve(fork.pid, fork.stack, this.runtimeOf(fork.pid)?.name ?? null);
      return made.wasm || made.host ? made : origin;
    } catch {
      return undefined; // naming is a courtesy: it never stops an alert
    }
  }

  /** This pid was judged running this command line already (and is noted as judged now if not). */
  private judgedBefore(pid: number, argv: readonly string[]): boolean {
    const key = argv.join('\0');
    if (this.judgedImages.get(pid) === key) return true;
    if (this.judgedImages.size < this.limits.children || this.judgedImages.has(pid)) this.judgedImages.set(pid, key);
    return false;
  }

  /** A descendant has exited: what was kept about its memory and handles goes. */
  private forget(pid: number): void {
    this.judgedImages.delete(pid);
    this.maps.forget(pid);
    this.symbols?.forget(pid);
    this.forkStacks.delete(pid);
    this.runtimes.delete(pid);
    this.assessment.forget(pid);
    this.handles -= this.memfdNames.get(pid)?.size ?? 0;
    this.handles -= this.listening.get(pid)?.size ?? 0;
    this.memfdNames.delete(pid);
    this.listening.delete(pid);
  }

  private isLaunchExec(e: ExecEvent): boolean {
    if (!this.target.launched || this.launchExecSeen || e.pid !== this.pid) return false;
    this.launchExecSeen = true;
    if (e.image) this.target.exe = e.image;
    return true;
  }

  private addFinding(f: Finding, length = 0, e?: RuntimeEvent): void {
    const alert = this.assessment.add(f, length);
    if (!alert) return;
    const origin = e && this.origin(e);
    if (origin) alert.origin = origin;
    this.onAlert(alert);
  }

  /** The runtime of a process, identified once (again after it execs); null once it is gone. */
  private runtimeOf(pid: number): RuntimeInfo | null {
    if (this.runtimes.has(pid)) return this.runtimes.get(pid)!;
    const exe = readExe(pid);
    const info = exe ? identifyRuntime(exe, this.maps.maps(pid)) : null;
    this.runtimes.set(pid, info);
    return info;
  }

  /** An outbound connection from either source: counted once per endpoint, judged every time. */
  private onOutbound(c: Outbound, e?: RuntimeEvent): void {
    const key = connectionKey(c);
    if (c.established && !this.connections.has(key)) {
      if (this.connections.size < this.limits.connections) {
        this.connections.set(key, { protocol: c.protocol, address: c.address, port: c.port, state: c.state, pid: c.pid });
      } else {
        this.capped.connections++;
      }
    }
    for (const f of this.rules.outbound(c)) this.addFinding(f, 0, e);
  }

  /** Records a child for the report; a fork storm keeps the first ones. */
  private noteChild(c: ReportChild, count = true): ReportChild {
    if (this.children.size < this.limits.children) this.children.set(c.pid, c);
    else if (count) this.capped.children++;
    return c;
  }

  private noteMemfd(pid: number, fd: number, name: string): void {
    let byFd = this.memfdNames.get(pid);
    if (byFd?.has(fd)) {
      byFd.set(fd, name); // the fd was closed and reused
      return;
    }
    if (this.handles >= this.limits.handles) {
      this.capped.handles++;
      return;
    }
    if (!byFd) this.memfdNames.set(pid, (byFd = new Map()));
    byFd.set(fd, name);
    this.handles++;
  }

  private noteListening(pid: number, where: string): void {
    let set = this.listening.get(pid);
    if (set?.has(where)) return;
    if (this.handles >= this.limits.handles) {
      this.capped.handles++;
      return;
    }
    if (!set) this.listening.set(pid, (set = new Set()));
    set.add(where);
    this.handles++;
  }

  /** Items not kept because a limit was reached. */
  cappedCounts(): CappedCounts {
    return { ...this.capped, alerts: this.assessment.cappedAlerts };
  }

  /** The report as things stand; `facts` come from the session that fed the case. */
  report(reason: EndReason, facts: SessionFacts, ended = Date.now()): Report {
    this.settle();
    const alerts = this.assessment.alerts();
    const breakdown = this.assessment.breakdown();
    const score = breakdown.score;
    const runtime = this.runtime();
    const counts = facts.syscalls.counts;
    const top = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([nr, count]) => ({ name: syscallName(nr), nr, count }));
    const drops = facts.drops;
    const capped = this.cappedCounts();

    return {
      pid: this.pid,
      verdict: verdict(score),
      threat_score: Math.round(score * 10) / 10,
      bpf_used: facts.bpf,
      duration: Math.round((ended - this.startedAt) / 10) / 100,
      alerts: alerts.map(reportAlert),
      new_connections: this.connections.size,
      rwx_regions: this.assessment.wxRegions,
      score_breakdown: reportScoreBreakdown(breakdown),
      schema_version: SCHEMA_VERSION,
      tool: { name: 'wasmshark', version: VERSION },
      mode: facts.bpf ? 'bpf' : 'proc',
      bpf_error: facts.bpfError,
      started_at: new Date(this.startedAt).toISOString(),
      ended_at: new Date(ended).toISOString(),
      end_reason: reason,
      target: {
        pid: this.pid,
        comm: this.target.comm,
        exe: truncate(this.target.exe, 1024),
        cmdline: this.target.cmdline,
        launched: this.target.launched,
        exit_code: this.target.exitCode,
        exit_signal: this.target.exitSignal,
        runtime: { name: runtime.name, engine: runtime.engine, version: runtime.version, jit: runtime.jit, embedder: runtime.embedder ?? null },
        user: this.target.user,
      },
      children: [...this.children.values()].slice(0, 1000),
      connections: [...this.connections.values()].slice(0, 1000),
      syscalls: { source: facts.syscalls.source, total: [...counts.values()].reduce((a, b) => a + b, 0), top },
      events: { total: this.eventTotal, by_kind: { ...this.eventCounts } },
      drops: {
        total: drops?.total ?? 0,
        by_kind: drops ? { ...drops.byKind } : {},
        stash: drops?.stash ?? 0,
        stacks: drops?.stacks ?? 0,
        userspace: drops?.userspace ?? 0,
        malformed: facts.malformed,
      },
      coverage: assessCoverage({
        bpf: facts.bpf,
        bpfError: facts.bpfError,
        syscallMode: facts.syscallMode,
        kernel: facts.kernel,
        hooks: facts.hooks,
        launched: this.target.launched,
        drops,
        malformed: facts.malformed,
        syscalls: facts.syscalls.source,
        pollIntervalMs: facts.pollIntervalMs,
        endedOnError: reason === 'error',
        gaps: facts.gaps ?? [],
      }),
      capped,
      symbols: this.symbolsReport(alerts, runtime.name),
    };
  }

  private symbolsReport(alerts: Alert[], runtime: string): Report['symbols'] {
    if (!this.symbols) return { enabled: false, perf_maps: [], note: 'symbols are off (--no-symbols): alerts carry no origin' };
    // an alert's own reason first; else whether the target has a map at all (a runtime that JIT-compiles WASM)
    const unnamed = alerts.find((a) => a.origin && !a.origin.wasm && a.origin.note?.startsWith('no JIT symbol map'));
    const jit = ['node', 'deno', 'workerd', 'wasmtime', 'bun'].includes(runtime);
    const note = unnamed?.origin?.note ?? (jit && this.target.exitCode === null && this.target.exitSignal === null ? mapNote(this.pid, runtime) : null);
    return { enabled: true, perf_maps: this.symbols.statuses(), note };
  }

  /**
   * In launch mode, removes the JIT maps the monitor made the target and its
   * descendants write (created since the case began); never a map of a
   * process it did not start.
   */
  removeJitMaps(cwd?: string): string[] {
    if (!this.target.launched || !this.symbols) return [];
    return removeJitMaps([this.pid, ...this.children.keys()], this.startedAt - 1000, cwd);
  }
}
