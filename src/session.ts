/**
 * What the monitor and the watch share about their probe session: loading the
 * probes with the fallback to /proc polling, and the options both accept.
 */
import type { KernelFacts } from './coverage';
import { ProbeError, startProbes, type ProbeOptions, type Probes } from './probes';
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
  const { kernel, object, ia32, compat } = probes.hooks;
  return { release: kernel, object, ia32, compat };
}
