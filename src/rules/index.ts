/**
 * The rule set: RuntimeEvent -> Findings, with level overrides from the
 * rules file applied last. Stateless apart from what the context answers.
 */
import type { Finding } from '../alerts';
import type { RuntimeEvent } from '../events';
import type { RulesConfig } from './config';
import { mmapRules, mprotectRules, rwxRegionRules } from './memory';
import { outboundFromConnect, outboundRules, unixSocketRules, type Outbound } from './network';
import { execRules, memfdRules, processRules, type ProcessContext } from './process';
import { SecretMatchers } from './secrets';

export { DEFAULT_RULES, loadRules, type RulesConfig } from './config';
export { connectionKey, outboundFromConnect, outboundFromProc, type Outbound } from './network';

export interface RuleContext extends ProcessContext {
  /** Whether children found by polling /proc are alerted on (off when the kernel reports them). */
  procChildren: boolean;
}

export class RuleSet {
  private readonly secrets: SecretMatchers;

  constructor(private readonly config: RulesConfig) {
    this.secrets = new SecretMatchers(config);
  }

  private leveled(findings: Finding[]): Finding[] {
    for (const f of findings) f.level = this.config.levels[f.rule] ?? f.level;
    return findings;
  }

  /** Findings for one event; outbound connections from /proc come through `outbound`. */
  evaluate(e: RuntimeEvent, ctx: RuleContext): Finding[] {
    switch (e.kind) {
      case 'mmap':
        return this.leveled(mmapRules(e));
      case 'mprotect':
        return this.leveled(mprotectRules(e));
      case 'exec':
        return this.leveled(execRules(e, ctx));
      case 'memfd':
        return this.leveled(memfdRules(e));
      case 'connect': {
        const out = outboundFromConnect(e);
        return this.leveled(out ? outboundRules(out, this.config) : unixSocketRules(e, this.config));
      }
      case 'rwx-region':
        return this.leveled(rwxRegionRules(e));
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

  outbound(c: Outbound): Finding[] {
    return this.leveled(outboundRules(c, this.config));
  }
}
