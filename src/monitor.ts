/**
 * The monitor: one probe session (or /proc polling) and one case, for one
 * monitored process and its descendants.
 *
 *   const m = monitor(pid, { timeout: 20 });
 *   m.on('alert', (a) => console.log(a.level, a.title));
 *   const report = await m.done;      // or: await m.stop()
 */
import { EventEmitter } from 'events';
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as os from 'os';
import type { Alert } from './alerts';
import type { Task } from './clock';
import { Case, readCmdline, readExe, reportUser, type CaseTarget, type SessionFacts } from './case';
import type { RuntimeEvent } from './events';
import { withJitMaps } from './symbols/launch';
import { launch, type LaunchOptions } from './launch';
import type { Backend, DropCounts, Probes, SyscallHooks } from './probes';
import { readStat } from './proc/stat';
import { truncate, type EndReason, type Report, type ReportUser } from './report';
import { RuleSet } from './rules';
import { identifyRuntime, type RuntimeInfo } from './runtime/identify';
import { checkPid, checkSyscalls, checkTimeout, normalizeSession, ProbeSession, type NormalizedSession, type SessionOptions } from './session';
import { ProcSource } from './sources/proc/source';
import { currentUser, envFor, identityFor, processUser, type UserIdentity } from './user';

export interface MonitorOptions extends SessionOptions {
  /** Seconds to monitor; 0 means until the target exits or stop() (default 60). */
  timeout?: number;
  /**
   * 'lean' (default): hook only the syscalls the rules need and sample syscall
   * frequency from /proc; 'exact': hook every syscall, counting each exactly
   * (every process on the host pays for it). See ProbeOptions.syscalls.
   */
  syscalls?: SyscallHooks;
  /** Force the lean hooks' backend (default: trampolines where the kernel allows them). See ProbeOptions.backend. */
  backend?: Backend;
  /** With exact hooks, count syscalls in the kernel (default true). */
  countSyscalls?: boolean;
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

interface Normalized extends NormalizedSession {
  timeout: number;
  syscalls: SyscallHooks;
  backend: Backend | undefined;
  countSyscalls: boolean;
}

function normalize(options: MonitorOptions): Readonly<Normalized> {
  const syscalls = checkSyscalls(options.syscalls);
  const session = normalizeSession(options, 500);
  const timeout = checkTimeout(options.timeout ?? 60);
  return Object.freeze({ ...session, timeout, syscalls, backend: options.backend, countSyscalls: options.countSyscalls !== false });
}

/** One probe session (or /proc polling) judging one target: the case of one. */
export class Monitor extends EventEmitter<MonitorEvents> {
  /**
   * Resolves with the final report when monitoring ends, however it ends, and
   * the probes are gone. 'end' carries the same report as soon as it is final,
   * while the probes are still detaching.
   */
  readonly done: Promise<Report>;

  private readonly options: Readonly<Normalized>;
  private readonly rules: RuleSet;
  /** Set once the target is known and the probes are loaded (or not): what it judges depends on both. */
  private case: Case | null = null;
  private readonly attachPid: number | null = null;
  /** Who a launched command runs as, when not the monitor's own user. */
  private runAs: UserIdentity | null = null;
  /** The probes (or none), the clock for periodic work, the facts for the report. */
  private readonly session: ProbeSession;
  private dropTask: Task | null = null;
  private deliveredAtCheck = 0;
  private dropsSeen = 0;
  private dropsFirstMs = 0;
  private proc: ProcSource | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ending: Promise<Report> | null = null;
  private reported = false;
  private resolveDone!: (r: Report) => void;
  private child: ChildProcess | null = null;
  /** Where a launched command started (V8 writes its log there beside its JIT map). */
  private launchCwd: string | undefined;

  /** Use monitor() or monitorCommand(). */
  constructor(
    target: { pid: number } | { command: string; args: string[]; launch: MonitorCommandOptions },
    options: MonitorOptions,
  ) {
    super();
    this.options = normalize(options);
    this.rules = new RuleSet(this.options.rules);
    this.session = new ProbeSession(this.options, {
      onWarning: (w) => this.emit('warning', w),
      onError: (err) => this.emit('error', err),
      onBatch: (events) => {
        this.proc?.poke(); // the tree is doing something: /proc passes and samples at full pace
        for (const e of events) this.onEvent(e);
      },
    });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if ('pid' in target) {
      checkPid(target.pid);
      this.attachPid = target.pid;
      process.nextTick(() => this.startAttached());
    } else {
      if (typeof target.command !== 'string' || target.command === '') throw new TypeError('monitorCommand needs a command');
      const { uid, gid, groups } = target.launch;
      if (uid === undefined && (gid !== undefined || groups !== undefined)) throw new TypeError('gid and groups need a uid');
      if (uid !== undefined) this.runAs = identityFor(uid, gid, groups);
      process.nextTick(() => void this.startLaunched(target.command, target.args, target.launch));
    }
  }

  private newCase(target: CaseTarget): Case {
    return new Case(target, {
      rules: this.rules,
      procChildren: this.probes === null,
      onAlert: (a) => this.emit('alert', a),
      kernelLive: () => this.session.kernelLive,
      symbols: this.options.symbols,
    });
  }

  private get probes(): Probes | null {
    return this.session.probes;
  }

  private get pid(): number {
    return this.case?.pid ?? this.attachPid ?? 0;
  }

  /** Loads the probes unless told not to; on failure, says why once and goes on with /proc. */
  private startProbes(): void {
    this.session.open({ syscalls: this.options.syscalls, backend: this.options.backend, countSyscalls: this.options.countSyscalls });
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
      // The probes report forks, execs and code mappings (and poke the source): after the first
      // pass, a pass reads what the kernel does not report, and an idle tree's passes slow down.
      kernelFollows: this.probes !== null,
      clock: this.session.clock,
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

  private ready(c: Case): void {
    c.begin();
    this.startTimer();
    // cheap (one map read): a flood shows within a second, not only in the final report
    // (while nothing arrives, nothing can have been dropped since: the check slows down)
    if (this.probes) this.dropTask = this.session.clock.every(1000, () => this.checkDrops(), { idleMs: 8000 });
    const t = c.target;
    this.emit('ready', {
      pid: this.pid,
      // a launch gate has not exec'd the command yet: judge by the command's file
      runtime: t.launched ? identifyRuntime(t.exe) : c.runtime(),
      bpf: this.probes !== null,
      syscalls: this.probes?.hooks.syscalls ?? null,
      bpfError: this.session.bpfError,
      comm: t.comm,
      exe: t.exe,
      cmdline: t.cmdline,
      launched: t.launched,
      user: t.user,
    });
  }

  /** Events lost so far raise (or restate) monitor.blinded: the target may have flooded the monitor to hide something. */
  private checkDrops(): void {
    if (!this.probes || !this.case) return;
    if (this.probes.delivered === this.deliveredAtCheck) this.dropTask?.quiet();
    else this.dropTask?.busy();
    this.deliveredAtCheck = this.probes.delivered;
    const drops = this.probes.drops();
    if (drops.total <= this.dropsSeen) return;
    const now = Date.now();
    this.dropsSeen = drops.total;
    if (this.dropsFirstMs === 0) this.dropsFirstMs = now;
    for (const f of this.rules.blinded(drops, this.pid, this.dropsFirstMs, now)) this.case.measure(f, drops.total, now);
  }

  private startAttached(): void {
    try {
      const pid = this.attachPid!;
      const stat = readStat(pid);
      const target = { pid, comm: stat?.comm ?? '', exe: readExe(pid), cmdline: readCmdline(pid), launched: false, user: reportUser(processUser(pid)) };
      this.startProbes();
      const c = (this.case = this.newCase(target));
      if (this.probes) {
        try {
          this.probes.addTarget(this.pid, stat?.startTicks);
        } catch (err) {
          this.fail(err);
          return;
        }
      }
      this.ready(c);
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
      const baseEnv = runAs ? envFor(runAs, opts.env ?? process.env) : (opts.env ?? process.env);
      // the JIT maps name the WASM functions behind alerts; without the probes there are no stacks to name
      const mapped = this.options.symbols && this.probes ? withJitMaps(command, args, baseEnv) : { args, env: runAs || opts.env ? baseEnv : undefined };
      const { child, pid } = await launch(this.probes, command, mapped.args, {
        cwd: opts.cwd,
        env: mapped.env,
        stdio: opts.stdio,
        user: runAs ?? undefined,
      });
      this.child = child;
      this.launchCwd = path.resolve(opts.cwd ?? process.cwd());
      const c = (this.case = this.newCase({
        pid,
        comm: command.slice(command.lastIndexOf('/') + 1).slice(0, 15),
        exe: resolveCommand(command, opts.env ?? process.env),
        cmdline: [command, ...args].map((a) => truncate(a, 1024)),
        launched: true,
        user: reportUser(runAs ?? currentUser()),
      }));
      child.once('exit', (code, signal) => {
        c.noteExit(code, signal ? os.constants.signals[signal] : null);
        if (!this.probes) void this.stop('target-exit');
      });
      this.ready(c);
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

  private onEvent(e: RuntimeEvent): void {
    if (this.reported) return; // a syscall in flight at stop: after the report, it changes nothing
    if (this.listenerCount('event') > 0) this.emit('event', e);
    // The session's part: which processes the sources follow, and when the target is gone.
    if (e.kind === 'fork' && !e.thread) {
      // The kernel dropped the child if it is gone already; its pid may belong to someone else by now.
      if (this.probes?.hasTargetNow(e.childPid)) this.proc?.addPid(e.childPid);
    } else if (e.kind === 'exec' && e.ok) this.proc?.execd(e.pid);
    else if ((e.kind === 'mmap' || e.kind === 'mprotect') && e.ok) this.proc?.mapped(e.pid);
    this.case?.handle(e);
    if ((e.kind === 'exit' || e.kind === 'target-exit') && e.pid === this.pid) void this.stop('target-exit');
  }

  private countsInKernel(): boolean {
    return this.probes !== null && this.probes.hooks.syscalls === 'exact' && this.options.countSyscalls;
  }

  /** Counters while monitoring runs (and after): events seen, kernel drops, syscall counts. */
  stats(): { events: number; drops: DropCounts | null; syscalls: Map<number, number> } {
    return {
      events: this.case?.events ?? 0,
      drops: this.probes ? this.probes.drops() : null,
      syscalls: this.countsInKernel() ? this.probes!.syscallCounts() : (this.proc?.syscallCounts() ?? new Map()),
    };
  }

  /** Alerts so far, most severe first. */
  alerts(): Alert[] {
    return this.case?.alerts() ?? [];
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
    try {
      this.proc?.scanNow();
    } catch {
      // the target may be gone: what was seen stands
    }
    this.proc?.stop();
    // The report needs every event, not the detach: it waits out a grace period per tracepoint.
    const { detached } = await this.session.drain();
    this.case?.settle();
    this.checkDrops(); // every record is in: the counts are final
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
    }
    // Failed before the target was known (a launch that did not start): an empty case stands for it.
    this.case ??= this.newCase({ pid: this.attachPid ?? 0, comm: '', exe: '', cmdline: [], launched: this.attachPid === null, user: null });
    const report = this.case.report(reason, this.facts());
    if (this.options.symbols) this.case.removeJitMaps(this.launchCwd);
    this.reported = true;
    this.emit('end', report);
    await detached;
    this.resolveDone(report);
    return report;
  }

  private facts(): SessionFacts {
    let source: Report['syscalls']['source'] = 'none';
    let counts = new Map<number, number>();
    if (this.countsInKernel()) {
      source = 'bpf';
      counts = this.probes!.syscallCounts();
    } else if (this.proc && this.proc.samples() > 0) {
      source = 'sampled';
      counts = this.proc.syscallCounts();
    }
    return this.session.facts({ syscalls: { source, counts } });
  }
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
