/**
 * The low-level eBPF API: load and attach the probes, choose which processes
 * they follow, receive typed kernel events, read the counters, stop.
 *
 *   const probes = startProbes();
 *   probes.on('event', (e) => console.log(e.kind, e.pid));
 *   probes.addTarget(pid);
 *   ...
 *   await probes.stop();
 */
import { EventEmitter } from 'events';
import type { KernelEvent, KernelEventKind } from './events';
import { BPF_LEGACY_OBJECT_PATH, BPF_OBJECT_PATH, loadAddon, type NativeHooks, type NativeProgram, type NativeSession } from './native';
import { readStat } from './proc/stat';
import { decodeBatch } from './sources/bpf/decode';
import { StackJoiner } from './sources/bpf/stacks';
import { DROP_STASH, EV, EV_TYPE_MAX } from './sources/bpf/layout';

export type SyscallHooks = 'lean' | 'exact';

/**
 * Where lean hooks go: 'trampoline', fentry/fexit programs on the kernel
 * functions that do the operations the rules need (every syscall ABI, no task
 * on the slow syscall path), or 'tracepoint', one syscall tracepoint per
 * syscall. By default the trampolines where this kernel lets them load (a
 * feature probe decides, silently), else the tracepoints.
 */
export type Backend = 'trampoline' | 'tracepoint';

export interface ProbeOptions {
  /**
   * 'lean' (default): one tracepoint per syscall the rules need, so other
   * syscalls on the host run no program. Needs tracefs, which is mounted when
   * missing; where it cannot be, the probes hook every syscall instead and
   * `hooks.warnings` says why. 'exact': hook every syscall (sys_enter/sys_exit)
   * for exact per-syscall counts and the anonymous-memory check on every
   * syscall; every process on the host pays for it (see README "Cost").
   */
  syscalls?: SyscallHooks;
  /**
   * Force a backend for the lean hooks (default: chosen by a feature probe).
   * Trampolines asked for and refused by the kernel fall back to the
   * tracepoints with one warning in `hooks.warnings`.
   */
  backend?: Backend;
  /** With exact hooks, count every syscall of the followed processes (default true). */
  countSyscalls?: boolean;
  /**
   * Also report every successful exec on the host, by processes nobody
   * follows (ExecEvent.host): how a watch finds runtimes started after it.
   */
  watchExecs?: boolean;
  /** Follow children as they are forked (default true). */
  followChildren?: boolean;
  /**
   * Walk the user stack at alert-worthy events and deliver it with the event
   * (KernelEvent.userStack; default true). Off, no stack is ever walked.
   */
  stacks?: boolean;
  /** Ring buffer size in bytes: a power of two, at least 4096 (default 8 MiB). */
  ringBufferBytes?: number;
  /**
   * Hook 32-bit syscalls (int 0x80) in lean mode where the kernel runs them
   * (default true): two programs on every syscall of the host that return
   * at once for 64-bit ones. Off only to measure what they cost.
   */
  compatHooks?: boolean;
  /** Ask the verifier for each program's stack depth and instructions walked (programs()). */
  verifierStats?: boolean;
  /** Receives libbpf's messages. */
  log?: (level: 'warn' | 'info' | 'debug', message: string) => void;
  /** Also pass libbpf's debug messages to `log`. */
  debug?: boolean;
}

export interface DropCounts {
  /** Events lost because the ring buffer was full, by kind. */
  byKind: Record<Exclude<KernelEventKind, 'stack'>, number>;
  /** User stacks lost (the ring buffer was full after their event): the event stands, unnamed. Not in total. */
  stacks?: number;
  /** Syscall arguments lost between entry and exit (stash map full). */
  stash: number;
  /** Records taken from the ring buffer that could not be handed on (no memory for a batch). */
  userspace: number;
  total: number;
}

export interface ProbeEvents {
  event: [KernelEvent];
  /** Every decoded batch at once: cheaper than 'event' for high rates. */
  batch: [KernelEvent[]];
  error: [Error];
}

/** An error from loading, attaching or the kernel, with the errno behind it. */
export class ProbeError extends Error {
  errno?: number;
  code?: string;
  /** libbpf's own explanation (verifier or attach messages), when it gave one. */
  details?: string;

  constructor(message: string, cause?: { errno?: number; code?: string; details?: string }) {
    super(message);
    this.name = 'ProbeError';
    this.errno = cause?.errno;
    this.code = cause?.code;
    this.details = cause?.details;
  }
}

const KIND_BY_TYPE: Array<[number, Exclude<KernelEventKind, 'stack'>]> = [
  [EV.MMAP, 'mmap'],
  [EV.MPROTECT, 'mprotect'],
  [EV.PKEY_MPROTECT, 'mprotect'],
  [EV.EXEC, 'exec'],
  [EV.CONNECT, 'connect'],
  [EV.MEMFD, 'memfd'],
  [EV.FORK, 'fork'],
  [EV.EXIT, 'exit'],
  [EV.ANON_SYSCALL, 'anon-syscall'],
  [EV.PATH, 'path'],
  [EV.SYSCALL, 'syscall'],
  [EV.OPEN, 'open'],
];

const DEFAULT_RINGBUF = 8 << 20;
/** How long an event at the end of a batch waits for its stack record in the next one. */
const STACK_WAIT_MS = 20;

function checkOptions(options: ProbeOptions): Required<Pick<ProbeOptions, 'ringBufferBytes'>> {
  const size = options.ringBufferBytes ?? DEFAULT_RINGBUF;
  if (!Number.isInteger(size) || size < 4096 || size > 1 << 30 || (size & (size - 1)) !== 0) {
    throw new RangeError(`ringBufferBytes must be a power of two between 4096 and 1 GiB, got ${size}`);
  }
  return { ringBufferBytes: size };
}

function toProbeError(err: unknown): ProbeError {
  if (err instanceof ProbeError) return err;
  const e = err as { message?: string; errno?: number; code?: string; details?: string };
  return new ProbeError(String(e?.message ?? err), e);
}

export class Probes extends EventEmitter<ProbeEvents> {
  /** Milliseconds from the start of loading to the probes being attached. */
  readonly attachMs: number;
  /** Events decoded and emitted so far. */
  delivered = 0;
  /** Records that failed to decode (should stay 0; counted, never thrown). */
  malformed = 0;
  /** The syscall hooks in use, and why they differ from what was asked, if they do. */
  readonly hooks: Readonly<NativeHooks>;

  private readonly session: NativeSession;
  private readonly stacks = new StackJoiner();
  private stackTimer: NodeJS.Timeout | null = null;
  private stopped: Promise<void> | null = null;
  private markDrained!: () => void;
  /**
   * Resolves during stop(), once every record of the followed processes has
   * been delivered and before the probes detach (each syscall tracepoint
   * waits out a grace period on detach, ~25 ms here): a report can be
   * written while stop() finishes.
   */
  readonly drained: Promise<void> = new Promise((resolve) => (this.markDrained = resolve));

  /** Use startProbes(). */
  constructor(options: ProbeOptions = {}) {
    super();
    const { ringBufferBytes } = checkOptions(options);
    const syscalls = options.syscalls ?? 'lean';
    if (syscalls !== 'lean' && syscalls !== 'exact') throw new TypeError(`syscalls must be 'lean' or 'exact', got ${String(syscalls)}`);
    if (options.backend !== undefined && options.backend !== 'trampoline' && options.backend !== 'tracepoint') {
      throw new TypeError(`backend must be 'trampoline' or 'tracepoint', got ${String(options.backend)}`);
    }
    const { Session } = loadAddon();
    const started = process.hrtime.bigint();
    try {
      this.session = new Session({
        objectPath: BPF_OBJECT_PATH,
        legacyObjectPath: BPF_LEGACY_OBJECT_PATH,
        compatHooks: options.compatHooks ?? true,
        verifierStats: options.verifierStats ?? false,
        syscalls,
        backend: options.backend ?? 'auto',
        countSyscalls: options.countSyscalls ?? true,
        followChildren: options.followChildren ?? true,
        captureStacks: options.stacks ?? true,
        watchExecs: options.watchExecs ?? false,
        ringbufBytes: ringBufferBytes,
        debug: options.debug ?? false,
        log: options.log as ((level: string, message: string) => void) | undefined,
      });
    } catch (err) {
      throw toProbeError(err);
    }
    this.attachMs = Number(process.hrtime.bigint() - started) / 1e6;
    this.hooks = Object.freeze(this.session.hooks());
    this.session.start(
      (batch) => this.onBatch(batch),
      (err) => this.emit('error', toProbeError(err)),
      () => {
        this.flushStacks();
        this.markDrained();
      },
    );
  }

  private onBatch(batch: Buffer): void {
    const { events, malformed } = decodeBatch(batch);
    this.malformed += malformed;
    this.deliver(this.stacks.push(events));
    // an event whose stack may be in the next batch waits for it a moment at most
    if (this.stacks.holding && !this.stackTimer) {
      this.stackTimer = setTimeout(() => {
        this.stackTimer = null;
        this.deliver(this.stacks.flush());
      }, STACK_WAIT_MS);
      this.stackTimer.unref();
    }
  }

  private deliver(events: KernelEvent[]): void {
    this.delivered += events.length;
    if (events.length === 0) return;
    if (this.listenerCount('batch') > 0) this.emit('batch', events);
    if (this.listenerCount('event') > 0) for (const e of events) this.emit('event', e);
  }

  private flushStacks(): void {
    if (this.stackTimer) clearTimeout(this.stackTimer);
    this.stackTimer = null;
    this.deliver(this.stacks.flush());
  }

  private live(): NativeSession {
    if (this.stopped) throw new ProbeError('probes are stopped');
    return this.session;
  }

  /**
   * Follow a process (and, by default, every process it creates from now on).
   * Its start time is read now and checked in the kernel, so if the PID is
   * reused by another process later, that process is not followed.
   */
  addTarget(pid: number, startTicks?: number): { pid: number; startTicks: number } {
    const session = this.live();
    if (!Number.isInteger(pid) || pid < 1) throw new RangeError(`pid must be a positive integer, got ${pid}`);
    let ticks = startTicks;
    if (ticks === undefined) {
      const stat = readStat(pid);
      if (!stat) throw new ProbeError(`no such process: ${pid}`, { errno: 3, code: 'ESRCH' });
      ticks = stat.startTicks;
    }
    try {
      session.addTarget(pid, ticks);
    } catch (err) {
      throw toProbeError(err);
    }
    return { pid, startTicks: ticks };
  }

  removeTarget(pid: number): void {
    try {
      this.live().removeTarget(pid);
    } catch (err) {
      throw toProbeError(err);
    }
  }

  /** Whether the kernel is following pid right now (targets and their descendants). */
  hasTarget(pid: number): boolean {
    return this.live().hasTarget(pid);
  }

  /** hasTarget(), but false rather than an error once the probes are stopped. */
  hasTargetNow(pid: number): boolean {
    return !this.stopped && this.session.hasTarget(pid);
  }

  /** Every pid the kernel is following right now. */
  targets(): number[] {
    return this.live().targets();
  }

  /** Counted losses since the probes started; final once stop() has resolved. */
  drops(): DropCounts {
    const raw = this.session.drops();
    const byKind = { mmap: 0, mprotect: 0, exec: 0, connect: 0, memfd: 0, fork: 0, exit: 0, 'anon-syscall': 0, syscall: 0, open: 0, path: 0 };
    for (const [type, kind] of KIND_BY_TYPE) byKind[kind] += raw[type] ?? 0;
    const stash = raw[DROP_STASH] ?? 0;
    const userspace = raw[EV_TYPE_MAX] ?? 0;
    const total = Object.values(byKind).reduce((a, b) => a + b, 0) + stash + userspace;
    return { byKind, stash, userspace, total, stacks: raw[EV.STACK] ?? 0 };
  }

  /** Syscall number -> entries by the followed processes (empty unless exact hooks with countSyscalls); final after stop(). */
  syscallCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    this.session.syscallCounts().forEach((n, nr) => {
      if (n > 0) counts.set(nr, n);
    });
    return counts;
  }

  /** Bytes the kernel has written to the ring buffer and the reader has not taken yet (0 once stopped). */
  ringBufferUsedBytes(): number {
    return this.stopped ? 0 : this.session.ringBufferUsed();
  }

  /** The loaded programs with their kernel ids (for audits and tests). */
  programs(): NativeProgram[] {
    return this.stopped ? [] : this.session.programs();
  }

  /**
   * Detach every probe, deliver the events still in the ring buffer, unload.
   * Safe to call more than once; every call resolves once it is all done.
   * handOff (for a process that exits right after, as the CLI does): the
   * probes stop at once and their release, a kernel grace period per syscall
   * tracepoint, is left to a short-lived child process; this process's copies
   * of the links stay open until it exits.
   */
  stop(options: { handOff?: boolean } = {}): Promise<void> {
    if (!this.stopped) this.stopped = this.session.stop(options.handOff === true).finally(() => {
        this.flushStacks();
        this.markDrained();
      });
    return this.stopped;
  }

  get isStopped(): boolean {
    return this.stopped !== null;
  }
}

/** Load and attach the probes. Throws ProbeError (with errno and code) when the kernel refuses. */
export function startProbes(options: ProbeOptions = {}): Probes {
  return new Probes(options);
}
