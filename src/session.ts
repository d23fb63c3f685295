/**
 * The probe session the monitor and the watch are both built from: the
 * options both accept and their checks, loading the probes with the fallback
 * to /proc polling, the wiring of their events, the one clock for periodic
 * work, the facts every report's coverage is made of, and the finish (every
 * record delivered before the report, the detach after it).
 *
 *   const session = new ProbeSession(options, { onWarning, onError, onBatch });
 *   session.open({ syscalls: 'lean', countSyscalls: false });
 *   session.clock.every(1000, check);
 *   ...
 *   const detached = await session.drain();   // every record is in
 *   report(session.facts({ ... }));
 *   await detached;
 */
import type { SessionFacts } from './case';
import { Clock } from './clock';
import type { KernelFacts } from './coverage';
import type { KernelEvent } from './events';
import { ProbeError, startProbes, type ProbeOptions, type Probes, type SyscallHooks } from './probes';
import { isLiveStat, readStat } from './proc/stat';
import { DEFAULT_RULES, type RulesConfig } from './rules';

export interface SessionOptions {
  /**
   * true: use eBPF, and fall back to /proc polling with a warning if it cannot load;
   * false: /proc polling only; 'auto' (default): eBPF when it loads, else /proc with a warning.
   */
  bpf?: boolean | 'auto';
  /** Lists and levels for the rules (default DEFAULT_RULES; see loadRules). */
  rules?: RulesConfig;
  /** /proc scan interval in milliseconds. */
  pollIntervalMs?: number;
  /** Ring buffer size in bytes (default 8 MiB). */
  ringBufferBytes?: number;
  /**
   * The process exits as soon as monitoring has ended (as the CLI does): the
   * probes' detach, which waits out a kernel grace period per syscall
   * tracepoint, is left to a short-lived child process instead of keeping
   * stop() waiting. Leave it unset in a process that goes on: its copies of
   * the probes' links stay open until it exits.
   */
  exitAfter?: boolean;
  /**
   * Name the code behind each alert: the WASM function, the import it called
   * through, the host function (default true). In launch mode it also turns
   * on the runtime's JIT symbol map (node, deno, wasmtime); false: neither.
   */
  symbols?: boolean;
}

export interface NormalizedSession {
  bpf: boolean | 'auto';
  rules: RulesConfig;
  pollIntervalMs: number;
  ringBufferBytes: number | undefined;
  exitAfter: boolean;
  symbols: boolean;
}

export function normalizeSession(options: SessionOptions, defaultPollMs: number): NormalizedSession {
  const { bpf = 'auto', rules = DEFAULT_RULES, pollIntervalMs = defaultPollMs } = options;
  if (bpf !== true && bpf !== false && bpf !== 'auto') throw new TypeError(`bpf must be true, false or 'auto', got ${String(bpf)}`);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 10) {
    throw new RangeError(`pollIntervalMs must be an integer >= 10, got ${String(pollIntervalMs)}`);
  }
  if (options.symbols !== undefined && typeof options.symbols !== 'boolean') throw new TypeError(`symbols must be a boolean, got ${String(options.symbols)}`);
  return { bpf, rules, pollIntervalMs, ringBufferBytes: options.ringBufferBytes, exitAfter: options.exitAfter === true, symbols: options.symbols !== false };
}

/** A pid to follow: a live process other than this one (throws a clear error otherwise). */
export function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid < 1 || pid > 4194304) throw new RangeError(`pid must be a positive integer, got ${String(pid)}`);
  if (pid === process.pid) throw new Error('cannot monitor wasmshark itself');
  const stat = readStat(pid);
  if (!stat) throw new Error(`no such process: ${pid}`);
  if (!isLiveStat(stat)) throw new Error(`process ${pid} has already exited`);
}

/** The syscall hooks asked for (default 'lean'). */
export function checkSyscalls(syscalls: unknown = 'lean'): SyscallHooks {
  if (syscalls !== 'lean' && syscalls !== 'exact') throw new TypeError(`syscalls must be 'lean' or 'exact', got ${String(syscalls)}`);
  return syscalls;
}

export function checkTimeout(timeout: unknown): number {
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    throw new RangeError(`timeout must be a number of seconds >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

/** Loads the probes unless told not to; on failure, says why once (through `warn`) and returns null. */
export function openProbes(
  want: boolean | 'auto',
  options: ProbeOptions,
  warn: (message: string) => void,
): { probes: Probes | null; bpfError: string | null } {
  if (want === false) return { probes: null, bpfError: null };
  try {
    return { probes: startProbes(options), bpfError: null };
  } catch (err) {
    const reason = err instanceof ProbeError || err instanceof Error ? err.message : String(err);
    warn(`eBPF unavailable (${reason}); falling back to /proc polling`);
    return { probes: null, bpfError: reason };
  }
}

/** What the probes' loader found out about the kernel, for the report's coverage (null without eBPF). */
export function kernelFacts(probes: Probes | null): KernelFacts | null {
  if (!probes) return null;
  const { kernel, object, ia32, compat, backend, backendNote, unhooked } = probes.hooks;
  return { release: kernel, object, ia32, compat, backend, backendNote, unhooked };
}

export interface SessionHandlers {
  onWarning(message: string): void;
  onError(err: Error): void;
  onBatch(events: KernelEvent[]): void;
}

/** The per-report part of the facts: what differs between the cases of one session. */
export interface CaseFacts {
  syscalls?: SessionFacts['syscalls'];
  /** The drops to report (default: the session's since its start). */
  drops?: SessionFacts['drops'];
  malformed?: number;
  /** Why this case's coverage is partial beyond the session's own reasons. */
  gaps?: string[];
}

/** One probe session (or none: /proc polling), its clock and its facts. */
export class ProbeSession {
  probes: Probes | null = null;
  /** Why eBPF is not in use when it was wanted. */
  bpfError: string | null = null;
  /** The BPF programs attached, for the reports' coverage. */
  programNames: string[] = [];
  /** One timer for the periodic work of the session: /proc passes, samples, drop checks, rescans. */
  readonly clock = new Clock();

  constructor(
    readonly options: Readonly<NormalizedSession>,
    private readonly handlers: SessionHandlers,
  ) {}

  /** Loads the probes unless told not to; on failure says why once (a warning) and goes on without them. */
  open(probeOptions: Omit<ProbeOptions, 'ringBufferBytes' | 'stacks'>): Probes | null {
    const opened = openProbes(this.options.bpf, { ...probeOptions, ringBufferBytes: this.options.ringBufferBytes, stacks: this.options.symbols }, (w) => this.handlers.onWarning(w));
    this.bpfError = opened.bpfError;
    this.probes = opened.probes;
    if (!this.probes) return null;
    this.programNames = this.probes.programs().map((p) => p.name);
    for (const w of this.probes.hooks.warnings) this.handlers.onWarning(w);
    this.probes.on('batch', (events) => this.handlers.onBatch(events));
    this.probes.on('error', (err) => this.handlers.onError(err));
    return this.probes;
  }

  /** Whether the kernel probes are loaded and still attached. */
  get kernelLive(): boolean {
    return this.probes !== null && !this.probes.isStopped;
  }

  /**
   * The end of the session: periodic work stops, the probes detach, and this
   * resolves once every record they hold has been delivered, with the detach
   * still going on (it waits out a kernel grace period per tracepoint): the
   * promise it gives settles when the probes are gone.
   */
  async drain(): Promise<{ detached: Promise<void> }> {
    this.clock.stop();
    const detached = this.probes ? this.probes.stop({ handOff: this.options.exitAfter }) : Promise.resolve();
    if (this.probes) await this.probes.drained;
    return { detached };
  }

  /** The facts a report's coverage is made of. */
  facts(c: CaseFacts = {}): SessionFacts {
    return {
      bpf: this.probes !== null,
      bpfError: this.bpfError,
      syscalls: c.syscalls ?? { source: 'none', counts: new Map() },
      drops: c.drops !== undefined ? c.drops : (this.probes?.drops() ?? null),
      malformed: c.malformed ?? this.probes?.malformed ?? 0,
      syscallMode: this.probes?.hooks.syscalls ?? null,
      kernel: kernelFacts(this.probes),
      hooks: this.programNames,
      pollIntervalMs: this.options.pollIntervalMs,
      gaps: c.gaps ?? [],
    };
  }
}
