/**
 * The monitor: kernel probes and /proc polling in, alerts, score and the
 * final report out. One per monitored process (and its descendants).
 *
 *   const m = monitor(pid, { timeout: 20 });
 *   m.on('alert', (a) => console.log(a.level, a.title));
 *   const report = await m.done;      // or: await m.stop()
 */
import { EventEmitter } from 'events';
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import type { Alert, Finding } from './alerts';
import { Assessment } from './assessment';
import { assessCoverage } from './coverage';
import type { ExecEvent, ProcRwxEvent, RuntimeEvent } from './events';
import { launch, type LaunchOptions } from './launch';
import { ProbeError, startProbes, type DropCounts, type Probes, type SyscallHooks } from './probes';
import { readArgv, readLinkOr } from './proc/read';
import { readStat } from './proc/stat';
import { reportAlert, reportScoreBreakdown, truncate, SCHEMA_VERSION, type EndReason, type Report, type ReportChild, type ReportConnection, type ReportUser } from './report';
import { connectionKey, DEFAULT_RULES, outboundFromConnect, outboundFromProc, RuleSet, type Outbound, type RulesConfig } from './rules';
import { verdict } from './score';
import { MapsCache } from './runtime/callsite';
import { identifyRuntime, type RuntimeInfo } from './runtime/identify';
import { ProcSource } from './sources/proc/source';
import { syscallName } from './syscalls';
import { currentUser, envFor, identityFor, processUser, type UserIdentity } from './user';
import { VERSION } from './version';

export interface MonitorOptions {
  /**
   * true: use eBPF, and fall back to /proc polling with a warning if it cannot load;
   * false: /proc polling only; 'auto' (default): eBPF when it loads, else /proc with a warning.
   */
  bpf?: boolean | 'auto';
  /** Seconds to monitor; 0 means until the target exits or stop() (default 60). */
  timeout?: number;
  /** Lists and levels for the rules (default DEFAULT_RULES; see loadRules). */
  rules?: RulesConfig;
  /** /proc scan interval in milliseconds (default 500). */
  pollIntervalMs?: number;
  /**
   * 'lean' (default): hook only the syscalls the rules need and sample syscall
   * frequency from /proc; 'exact': hook every syscall, counting each exactly
   * (every process on the host pays for it). See ProbeOptions.syscalls.
   */
  syscalls?: SyscallHooks;
  /** With exact hooks, count syscalls in the kernel (default true). */
  countSyscalls?: boolean;
  /** Ring buffer size in bytes (default 8 MiB). */
  ringBufferBytes?: number;
}

export interface MonitorCommandOptions extends MonitorOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdio?: LaunchOptions['stdio'];
  /**
   * Run the command as this user (real, effective and saved uid), with HOME,
   * USER and LOGNAME set to theirs; it cannot gain privileges through setuid
   * programs. Needs root. Default: the monitor's own user.
   */
  uid?: number;
  /** Its group (default: the user's primary group from the user database). */
  gid?: number;
  /** Its supplementary groups (default: the user's groups in the database, as initgroups sets them). */
  groups?: number[];
}

export interface MonitorInfo {
  pid: number;
  /** The runtime identified from the executable (for a launch, from the command). */
  runtime: RuntimeInfo;
  bpf: boolean;
  /** The syscall hooks in use with eBPF ('lean' or 'exact'), null without eBPF. */
  syscalls: SyscallHooks | null;
  /** Why eBPF is not in use, when it was wanted. */
  bpfError: string | null;
  comm: string;
  exe: string;
  cmdline: string[];
  launched: boolean;
  /** Who the target runs as (in launch mode, who it is started as). */
  user: ReportUser | null;
}

export interface MonitorEvents {
  ready: [MonitorInfo];
  event: [RuntimeEvent];
  alert: [Alert];
  warning: [string];
  error: [Error];
  end: [Report];
}

interface Normalized {
  bpf: boolean | 'auto';
  timeout: number;
  rules: RulesConfig;
  pollIntervalMs: number;
  syscalls: SyscallHooks;
  countSyscalls: boolean;
  ringBufferBytes: number | undefined;
}

function normalize(options: MonitorOptions): Readonly<Normalized> {
  const { bpf = 'auto', timeout = 60, rules = DEFAULT_RULES, pollIntervalMs = 500, syscalls = 'lean', countSyscalls = true } = options;
  if (syscalls !== 'lean' && syscalls !== 'exact') throw new TypeError(`syscalls must be 'lean' or 'exact', got ${String(syscalls)}`);
  if (bpf !== true && bpf !== false && bpf !== 'auto') throw new TypeError(`bpf must be true, false or 'auto', got ${String(bpf)}`);
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    throw new RangeError(`timeout must be a number of seconds >= 0, got ${String(timeout)}`);
  }
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 10) {
    throw new RangeError(`pollIntervalMs must be an integer >= 10, got ${String(pollIntervalMs)}`);
  }
  return Object.freeze({ bpf, timeout, rules, pollIntervalMs, syscalls, countSyscalls: countSyscalls !== false, ringBufferBytes: options.ringBufferBytes });
}

/** How long an RWX region from /proc waits for the kernel's record of it: well over the reader's 10 ms poll. */
const REGION_SETTLE_MS = 100;
/** RWX regions waiting at most (a hostile target mapping thousands cannot grow the queue without bound). */
const MAX_DEFERRED_REGIONS = 4096;

/** Children listed in the report at most (a fork storm must not grow the monitor without bound). */
const MAX_CHILDREN = 10000;

function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid < 1 || pid > 4194304) throw new RangeError(`pid must be a positive integer, got ${String(pid)}`);
  if (pid === process.pid) throw new Error('cannot monitor wasmshark itself');
  const stat = readStat(pid);
  if (!stat) throw new Error(`no such process: ${pid}`);
  if (stat.state === 'Z' || stat.state === 'X') throw new Error(`process ${pid} has already exited`);
}

/** The target's command line for the report: 64 arguments, long ones cut with a marker. */
function readCmdline(pid: number): string[] {
  return readArgv(pid, 64, Infinity).map((a) => truncate(a, 1024));
}

function readExe(pid: number): string {
  return readLinkOr(`/proc/${pid}/exe`, '');
}

export class Monitor extends EventEmitter<MonitorEvents> {
  /**
   * Resolves with the final report when monitoring ends, however it ends, and
   * the probes are gone. 'end' carries the same report as soon as it is final,
   * while the probes are still detaching.
   */
  readonly done: Promise<Report>;

  private readonly options: Readonly<Normalized>;
  private readonly rules: RuleSet;
  private readonly assessment = new Assessment();
  private probes: Probes | null = null;
  private proc: ProcSource | null = null;
  private bpfError: string | null = null;
  private pid = 0;
  private launched = false;
  private launchExecSeen = false;
  /** Who a launched command runs as, when not the monitor's own user. */
  private runAs: UserIdentity | null = null;
  private user: ReportUser | null = null;
  /** The BPF programs attached, for the report's coverage. */
  private programNames: string[] = [];
  private dropTimer: NodeJS.Timeout | null = null;
  private dropsSeen = 0;
  private dropsFirstMs = 0;
  private target = { comm: '', exe: '', cmdline: [] as string[], exitCode: null as number | null, exitSignal: null as number | null };
  private readonly children = new Map<number, ReportChild>();
  private readonly connections = new Map<string, ReportConnection>();
  private readonly listening = new Set<string>();
  private readonly memfdNames = new Map<string, string>();
  private readonly maps = new MapsCache();
  private readonly runtimes = new Map<number, RuntimeInfo | null>();
  private readonly eventCounts: Record<string, number> = {};
  private eventTotal = 0;
  private startedAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private ending: Promise<Report> | null = null;
  private reported = false;
  /** RWX regions from /proc waiting for the kernel's events up to the scan (see onEvent). */
  private regionsToJudge: ProcRwxEvent[] = [];
  private regionTimer: NodeJS.Timeout | null = null;
  private resolveDone!: (r: Report) => void;
  private child: ChildProcess | null = null;

  /** Use monitor() or monitorCommand(). */
  constructor(
    target: { pid: number } | { command: string; args: string[]; launch: MonitorCommandOptions },
    options: MonitorOptions,
  ) {
    super();
    this.options = normalize(options);
    this.rules = new RuleSet(this.options.rules);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if ('pid' in target) {
      checkPid(target.pid);
      this.pid = target.pid;
      process.nextTick(() => this.startAttached());
    } else {
      if (typeof target.command !== 'string' || target.command === '') throw new TypeError('monitorCommand needs a command');
      const { uid, gid, groups } = target.launch;
      if (uid === undefined && (gid !== undefined || groups !== undefined)) throw new TypeError('gid and groups need a uid');
      if (uid !== undefined) this.runAs = identityFor(uid, gid, groups);
      this.launched = true;
      process.nextTick(() => void this.startLaunched(target.command, target.args, target.launch));
    }
  }

  /** Loads the probes unless told not to; on failure, says why once and goes on with /proc. */
  private startProbes(): void {
    if (this.options.bpf === false) return;
    try {
      this.probes = startProbes({
        syscalls: this.options.syscalls,
        countSyscalls: this.options.countSyscalls,
        ringBufferBytes: this.options.ringBufferBytes,
      });
      this.programNames = this.probes.programs().map((p) => p.name);
    } catch (err) {
      const reason = err instanceof ProbeError || err instanceof Error ? err.message : String(err);
      this.bpfError = reason;
      this.emit('warning', `eBPF unavailable (${reason}); falling back to /proc polling`);
      return;
    }
    for (const w of this.probes.hooks.warnings) this.emit('warning', w);
    this.probes.on('batch', (events) => {
      for (const e of events) this.onEvent(e);
    });
    this.probes.on('error', (err) => this.emit('error', err));
  }

  /** Starts polling /proc; its first pass runs at once, so call it after 'ready'. */
  private startProc(): void {
    this.proc = new ProcSource(this.pid, {
      intervalMs: this.options.pollIntervalMs,
      followChildren: true,
      // the kernel counts syscalls only with exact hooks; otherwise sample them, as the seed does
      sampleSyscalls: !this.countsInKernel(),
      // 200 ms: at 50 ms sampling alone took an idle monitor over 1% CPU (npm run bench)
      sampleIntervalMs: 200,
    });
    this.proc.on('event', (e) => this.onEvent(e));
    this.proc.on('error', (err) => this.emit('error', err));
    this.proc.start();
    // Children that existed before we attached: the kernel follows only new ones.
    if (this.probes) for (const pid of this.proc.pids()) if (pid !== this.pid) this.followExisting(pid);
  }

  private startTimer(): void {
    if (this.options.timeout > 0) this.timer = setTimeout(() => void this.stop('timeout'), this.options.timeout * 1000);
  }

  private ready(): void {
    this.startedAt = Date.now();
    this.startTimer();
    // cheap (one map read): a flood shows within a second, not only in the final report
    if (this.probes) this.dropTimer = setInterval(() => this.checkDrops(), 1000).unref();
    this.emit('ready', {
      pid: this.pid,
      // a launch gate has not exec'd the command yet: judge by the command's file
      runtime: this.launched ? identifyRuntime(this.target.exe) : (this.runtimeOf(this.pid) ?? identifyRuntime(this.target.exe)),
      bpf: this.probes !== null,
      syscalls: this.probes?.hooks.syscalls ?? null,
      bpfError: this.bpfError,
      comm: this.target.comm,
      exe: this.target.exe,
      cmdline: this.target.cmdline,
      launched: this.launched,
      user: this.user,
    });
  }

  /** Events lost so far raise (or restate) monitor.blinded: the target may have flooded the monitor to hide something. */
  private checkDrops(): void {
    if (!this.probes) return;
    const drops = this.probes.drops();
    if (drops.total <= this.dropsSeen) return;
    const now = Date.now();
    this.dropsSeen = drops.total;
    if (this.dropsFirstMs === 0) this.dropsFirstMs = now;
    for (const f of this.rules.blinded(drops, this.pid, this.dropsFirstMs, now)) {
      const alert = this.assessment.set(f, drops.total, now);
      if (alert) this.emit('alert', alert);
    }
  }

  private startAttached(): void {
    try {
      const stat = readStat(this.pid);
      this.target.comm = stat?.comm ?? '';
      this.target.exe = readExe(this.pid);
      this.target.cmdline = readCmdline(this.pid);
      this.user = reportUser(processUser(this.pid));
      this.startProbes();
      if (this.probes) {
        try {
          this.probes.addTarget(this.pid, stat?.startTicks);
        } catch (err) {
          this.fail(err);
          return;
        }
      }
      this.ready();
      this.startProc();
    } catch (err) {
      this.fail(err);
    }
  }

  private followExisting(pid: number): void {
    try {
      this.probes?.addTarget(pid);
    } catch {
      // gone already: nothing to follow
    }
  }

  private async startLaunched(command: string, args: string[], opts: MonitorCommandOptions): Promise<void> {
    try {
      this.startProbes();
      const runAs = this.runAs;
      this.user = reportUser(runAs ?? currentUser());
      const { child, pid } = await launch(this.probes, command, args, {
        cwd: opts.cwd,
        env: runAs ? envFor(runAs, opts.env ?? process.env) : opts.env,
        stdio: opts.stdio,
        user: runAs ?? undefined,
      });
      this.child = child;
      this.pid = pid;
      this.target.comm = command.slice(command.lastIndexOf('/') + 1).slice(0, 15);
      this.target.exe = resolveCommand(command, opts.env ?? process.env);
      this.target.cmdline = [command, ...args].map((a) => truncate(a, 1024));
      child.once('exit', (code, signal) => {
        if (this.target.exitCode === null && this.target.exitSignal === null) {
          this.target.exitCode = code;
          this.target.exitSignal = signal ? os.constants.signals[signal] : null;
        }
        if (!this.probes) void this.stop('target-exit');
      });
      this.ready();
      this.startProc();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    void this.stop('error');
  }

  private isLaunchExec(e: ExecEvent): boolean {
    if (!this.launched || this.launchExecSeen || e.pid !== this.pid) return false;
    this.launchExecSeen = true;
    if (e.image) this.target.exe = e.image;
    return true;
  }

  private addFinding(f: Finding, length = 0): void {
    const alert = this.assessment.add(f, length);
    if (alert) this.emit('alert', alert);
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
  private onOutbound(c: Outbound): void {
    const key = connectionKey(c);
    if (c.established && !this.connections.has(key)) {
      this.connections.set(key, { protocol: c.protocol, address: c.address, port: c.port, state: c.state, pid: c.pid });
    }
    for (const f of this.rules.outbound(c)) this.addFinding(f);
  }

  private onEvent(e: RuntimeEvent): void {
    if (this.reported) return; // a syscall in flight at stop: after the report, it changes nothing
    this.eventTotal++;
    this.eventCounts[e.kind] = (this.eventCounts[e.kind] ?? 0) + 1;
    if (this.listenerCount('event') > 0) this.emit('event', e);

    switch (e.kind) {
      case 'fork':
        if (!e.thread) {
          // The kernel dropped the child if it is gone already; its pid may belong to someone else by now.
          if (this.probes?.hasTargetNow(e.childPid)) this.proc?.addPid(e.childPid);
          this.noteChild({ pid: e.childPid, ppid: e.pid, program: '', argv: [], exit_code: null, signal: null });
        }
        return;
      case 'exit':
        if (e.pid === this.pid) {
          this.target.exitCode = e.exitCode;
          this.target.exitSignal = e.signal;
          void this.stop('target-exit');
        } else {
          const c = this.children.get(e.pid);
          if (c) Object.assign(c, { exit_code: e.exitCode, signal: e.signal });
          this.maps.forget(e.pid);
          this.runtimes.delete(e.pid);
          this.assessment.forget(e.pid);
        }
        return;
      case 'target-exit':
        if (e.pid === this.pid) void this.stop('target-exit');
        return;
      case 'memfd':
        if (e.ok) this.memfdNames.set(`${e.pid}:${e.result}`, e.name);
        break;
      case 'mmap':
        // new code in the process (a library, a JIT region): cached mappings no longer tell all
        if (e.ok) this.maps.invalidate(e.pid);
        break;
      case 'exec':
        if (e.ok) {
          this.runtimes.delete(e.pid);
          this.maps.invalidate(e.pid);
        }
        if (e.ok && e.pid !== this.pid) {
          const c = this.children.get(e.pid) ?? this.noteChild({ pid: e.pid, ppid: e.ppid, program: '', argv: [], exit_code: null, signal: null });
          c.program = truncate(e.image || e.filename, 1024);
          c.argv = e.argv;
        }
        break;
      case 'process':
        if (!this.probes && !this.children.has(e.pid)) {
          this.noteChild({ pid: e.pid, ppid: e.ppid, program: truncate(e.exe, 1024), argv: e.argv, exit_code: null, signal: null });
        }
        break;
      case 'connection': {
        const where = `${e.pid}:${e.protocol}:${e.localPort}`;
        if (e.state === 'LISTEN') this.listening.add(where);
        const out = outboundFromProc(e, this.listening.has(where));
        if (out) this.onOutbound(out);
        return;
      }
      case 'connect': {
        const out = outboundFromConnect(e);
        if (out) {
          this.onOutbound(out);
          return;
        }
        break; // AF_UNIX and others: the rules look at the path
      }
      case 'rwx-region':
        // The kernel reports how a region was made, but its record can still be on its way
        // (wake-ups are batched, up to 10 ms): judged from /proc alone meanwhile, the same
        // region would count twice. So judge it once the kernel's events have caught up.
        if (this.probes && !this.probes.isStopped) {
          this.deferRegion(e);
          return;
        }
        break;
    }
    this.judge(e);
  }

  private deferRegion(e: ProcRwxEvent): void {
    if (this.regionsToJudge.length < MAX_DEFERRED_REGIONS) this.regionsToJudge.push(e);
    this.regionTimer ??= setTimeout(() => this.judgeDeferredRegions(), REGION_SETTLE_MS);
  }

  private judgeDeferredRegions(): void {
    if (this.regionTimer) clearTimeout(this.regionTimer);
    this.regionTimer = null;
    const regions = this.regionsToJudge;
    this.regionsToJudge = [];
    for (const r of regions) this.judge(r);
  }

  private judge(e: RuntimeEvent): void {
    const findings = this.rules.evaluate(e, {
      procChildren: !this.probes,
      isLaunchExec: (x) => this.isLaunchExec(x),
      memfdName: (pid, fd) => this.memfdNames.get(`${pid}:${fd}`),
      runtime: (pid) => this.runtimeOf(pid),
      callSite: (pid, ip, stack) => this.maps.callSite(pid, ip, stack),
      kernelSawRegion: (pid, start, end) => this.assessment.kernelSawRegion(pid, start, end),
      mappedElf: (pid, addr) => this.maps.elfAt(pid, addr),
      // a child gone already is still known by its exec
      commandLine: (pid) => {
        const now = readArgv(pid, 8, 127);
        return now.length > 0 ? now : (this.children.get(pid)?.argv ?? []);
      },
    });
    const length = e.kind === 'mmap' || e.kind === 'mprotect' ? e.length : 0;
    for (const f of findings) this.addFinding(f, length);
  }

  /** Records a child for the report; a fork storm keeps the first MAX_CHILDREN. */
  private noteChild(c: ReportChild): ReportChild {
    if (this.children.size < MAX_CHILDREN) this.children.set(c.pid, c);
    return c;
  }

  private countsInKernel(): boolean {
    return this.probes !== null && this.probes.hooks.syscalls === 'exact' && this.options.countSyscalls;
  }

  /** Counters while monitoring runs (and after): events seen, kernel drops, syscall counts. */
  stats(): { events: number; drops: DropCounts | null; syscalls: Map<number, number> } {
    return {
      events: this.eventTotal,
      drops: this.probes ? this.probes.drops() : null,
      syscalls: this.countsInKernel() ? this.probes!.syscallCounts() : (this.proc?.syscallCounts() ?? new Map()),
    };
  }

  /** Alerts so far, most severe first. */
  alerts(): Alert[] {
    return this.assessment.alerts();
  }

  /**
   * End monitoring: a last /proc pass, detach the probes and deliver what the
   * kernel still holds, then build the report. Safe to call more than once.
   */
  stop(reason: EndReason = 'stopped'): Promise<Report> {
    // Claimed before finish() runs: its last /proc pass may see the target gone and call stop() again.
    if (!this.ending) this.ending = Promise.resolve().then(() => this.finish(reason));
    return this.ending;
  }

  private async finish(reason: EndReason): Promise<Report> {
    if (this.timer) clearTimeout(this.timer);
    if (this.dropTimer) clearInterval(this.dropTimer);
    try {
      this.proc?.scanNow();
    } catch {
      // the target may be gone: what was seen stands
    }
    this.proc?.stop();
    const detached = this.probes?.stop();
    // The report needs every event, not the detach: it waits out a grace period per tracepoint.
    if (this.probes) await this.probes.drained;
    this.judgeDeferredRegions();
    this.checkDrops(); // every record is in: the counts are final
    if (this.launched && this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
    }
    const report = this.buildReport(reason);
    this.reported = true;
    this.emit('end', report);
    await detached;
    this.resolveDone(report);
    return report;
  }

  private buildReport(reason: EndReason): Report {
    const alerts = this.assessment.alerts();
    const wxRegions = this.assessment.wxRegions;
    const breakdown = this.assessment.breakdown();
    const score = breakdown.score;
    const runtime = this.runtimeOf(this.pid) ?? identifyRuntime(this.target.exe);
    const ended = Date.now();

    let source: Report['syscalls']['source'] = 'none';
    let counts = new Map<number, number>();
    if (this.countsInKernel()) {
      source = 'bpf';
      counts = this.probes!.syscallCounts();
    } else if (this.proc && this.proc.samples() > 0) {
      source = 'sampled';
      counts = this.proc.syscallCounts();
    }
    const top = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([nr, count]) => ({ name: syscallName(nr), nr, count }));
    const drops = this.probes?.drops();

    return {
      pid: this.pid,
      verdict: verdict(score),
      threat_score: Math.round(score * 10) / 10,
      bpf_used: this.probes !== null,
      duration: Math.round((ended - this.startedAt) / 10) / 100,
      alerts: alerts.map(reportAlert),
      new_connections: this.connections.size,
      rwx_regions: wxRegions,
      score_breakdown: reportScoreBreakdown(breakdown),
      schema_version: SCHEMA_VERSION,
      tool: { name: 'wasmshark', version: VERSION },
      mode: this.probes ? 'bpf' : 'proc',
      bpf_error: this.bpfError,
      started_at: new Date(this.startedAt).toISOString(),
      ended_at: new Date(ended).toISOString(),
      end_reason: reason,
      target: {
        pid: this.pid,
        comm: this.target.comm,
        exe: truncate(this.target.exe, 1024),
        cmdline: this.target.cmdline,
        launched: this.launched,
        exit_code: this.target.exitCode,
        exit_signal: this.target.exitSignal,
        runtime: { name: runtime.name, engine: runtime.engine, version: runtime.version, jit: runtime.jit },
        user: this.user,
      },
      children: [...this.children.values()].slice(0, 1000),
      connections: [...this.connections.values()].slice(0, 1000),
      syscalls: { source, total: [...counts.values()].reduce((a, b) => a + b, 0), top },
      events: { total: this.eventTotal, by_kind: { ...this.eventCounts } },
      drops: {
        total: drops?.total ?? 0,
        by_kind: drops ? { ...drops.byKind } : {},
        stash: drops?.stash ?? 0,
        userspace: drops?.userspace ?? 0,
        malformed: this.probes?.malformed ?? 0,
      },
      coverage: assessCoverage({
        bpf: this.probes !== null,
        bpfError: this.bpfError,
        syscallMode: this.probes?.hooks.syscalls ?? null,
        hooks: this.programNames,
        launched: this.launched,
        drops: drops ?? null,
        malformed: this.probes?.malformed ?? 0,
        syscalls: source,
        pollIntervalMs: this.options.pollIntervalMs,
        endedOnError: reason === 'error',
      }),
    };
  }
}

function reportUser(u: UserIdentity | null): ReportUser | null {
  return u && { uid: u.uid, gid: u.gid, name: u.name, groups: [...u.groups] };
}

/** The file a command name runs, as the shell's PATH search finds it ('' if none). */
function resolveCommand(command: string, env: NodeJS.ProcessEnv): string {
  const candidates = command.includes('/') ? [command] : (env.PATH ?? '').split(':').filter(Boolean).map((d) => `${d}/${command}`);
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return fs.realpathSync(c);
    } catch {
      // next
    }
  }
  return '';
}

/** Monitor a running process and its descendants. Throws on bad input (no such pid, bad options). */
export function monitor(pid: number, options: MonitorOptions = {}): Monitor {
  return new Monitor({ pid }, options);
}

/** Start `command args` with monitoring in place from its first instruction. */
export function monitorCommand(command: string, args: string[] = [], options: MonitorCommandOptions = {}): Monitor {
  return new Monitor({ command, args, launch: options }, options);
}
