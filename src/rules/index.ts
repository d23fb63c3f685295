/**
 * The rule set: RuntimeEvent -> Findings, with level overrides from the
 * rules file applied last. Stateless apart from what the context answers.
 */
import type { Finding } from '../alerts';
import type { ProcRwxEvent, RuntimeEvent } from '../events';
import type { RulesConfig } from './config';
import type { DropCounts } from '../probes';
import { blindedRules } from './monitor';
import { mmapRules, mprotectRules, rwxRegionRules } from './memory';
import { anonSyscallRules, judgeMemory, judgeOpen, judgeRwxRegion, judgeSyscall } from './runtime';
import { memfdSyscallRules, memoryFileRules } from './fileless';
import { injectionRules, procMemRules, type InjectionContext } from './injection';
import type { CallSite } from '../runtime/callsite';
import type { RuntimeInfo } from '../runtime/identify';
import { outboundFromConnect, outboundRules, unixSocketRules, type Outbound } from './network';
import { execRules, memfdRules, processRules, type ProcessContext } from './process';
import { SecretMatchers } from './secrets';
import { PersistenceMatchers, procEnvironRules } from './persistence';
import { PROC_SUPER_MAGIC } from '../events';
import { syscallRules } from './syscalls';

export { DEFAULT_RULES, loadRules, type RulesConfig } from './config';
export { connectionKey, outboundFromConnect, outboundFromProc, type Outbound } from './network';

export interface RuleContext extends ProcessContext, InjectionContext {
  /** Whether children found by polling /proc are alerted on (off when the kernel reports them). */
  procChildren: boolean;
  /** The runtime a process runs, when known. */
  runtime(pid: number): RuntimeInfo | null;
  /** Where a memory syscall came from (resolved only when a rule needs it). */
  callSite(pid: number, ip: number, stack: readonly number[]): CallSite;
  /** Whether the kernel already reported how the memory at [start, end) of pid was made. */
  kernelSawRegion(pid: number, start: number, end: number): boolean;
  /** Whether the file mapped at addr in pid is an ELF file; null when it cannot be read (unmapped already). */
  mappedElf(pid: number, addr: number): boolean | null;
  /** Whether the RWX region at [start, end) of pid holds libffi closures (see isFfiClosurePage); absent: never. */
  ffiClosurePage?(pid: number, region: ProcRwxEvent): boolean;
}

export class RuleSet {
  private readonly secrets: SecretMatchers;
  private readonly persistence: PersistenceMatchers;
  private readonly networkTools: ReadonlySet<string>;

  constructor(private readonly config: RulesConfig) {
    this.secrets = new SecretMatchers(config);
    this.persistence = new PersistenceMatchers(config);
    this.networkTools = new Set(config.networkTools);
  }

  private leveled(findings: Finding[]): Finding[] {
    for (const f of findings) f.level = this.config.levels[f.rule] ?? f.level;
    return findings;
  }

  /** Findings for one event; outbound connections from /proc come through `outbound`. */
  evaluate(e: RuntimeEvent, ctx: RuleContext): Finding[] {
    switch (e.kind) {
      case 'mmap':
      case 'mprotect': {
        const findings = e.kind === 'mmap' ? mmapRules(e) : mprotectRules(e);
        const judged = judgeMemory(e, findings, ctx.runtime(e.pid), () => ctx.callSite(e.pid, e.ip, e.stack));
        const at = e.kind === 'mmap' ? e.result : e.addr;
        return this.leveled([...judged, ...memoryFileRules(e, () => ctx.mappedElf(e.pid, at))]);
      }
      case 'anon-syscall':
        return this.leveled(e.memfd ? memfdSyscallRules(e) : anonSyscallRules(e));
      case 'syscall':
        return this.leveled(judgeSyscall(e, injectionRules(e, ctx) ?? syscallRules(e), ctx.runtime(e.pid)));
      case 'open': {
        // a write that persists says more than "a secret file was opened": it replaces that finding
        const persists = this.persistence.openRules(e);
        const files = persists.length > 0 ? persists : this.secrets.openRules(e);
        return this.leveled(judgeOpen(e, [...procMemRules(e, ctx), ...procEnvironRules(e, PROC_SUPER_MAGIC), ...files], ctx.runtime(e.pid)));
      }
      case 'path':
        return this.leveled(this.persistence.pathRules(e));
      case 'exec':
        return this.leveled(execRules(e, ctx, this.networkTools));
      case 'memfd':
        return this.leveled(memfdRules(e));
      case 'connect': {
        const out = outboundFromConnect(e);
        return this.leveled(out ? outboundRules(out, this.config) : unixSocketRules(e, this.config));
      }
      case 'rwx-region':
        return this.leveled(
          judgeRwxRegion(e, rwxRegionRules(e), ctx.runtime(e.pid), ctx.kernelSawRegion(e.pid, e.start, e.end), () => ctx.ffiClosurePage?.(e.pid, e) ?? false),
        );
      case 'env':
        return this.leveled(this.secrets.envRules(e));
      case 'file':
        return this.leveled(this.secrets.fileRules(e));
      case 'process':
        return ctx.procChildren ? this.leveled(processRules(e)) : [];
      default:
        return [];
    }
  }

  /** Events lost so far (monitor.blinded); firstMs/lastMs: when losses were first and last noticed. */
  blinded(drops: DropCounts, pid: number, firstMs: number, lastMs: number): Finding[] {
    return this.leveled(blindedRules(drops, pid, firstMs, lastMs));
  }

  outbound(c: Outbound): Finding[] {
    return this.leveled(outboundRules(c, this.config));
  }
}
