/**
 * Alerts: what the rules conclude from events, deduplicated per rule and key.
 */
import type { Origin } from './symbols/origin';

export const LEVELS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] as const;
export type Level = (typeof LEVELS)[number];

/** MONITOR: attacks on the monitor itself (a flood that makes it drop events). */
export type Category = 'MEMORY' | 'PROCESS' | 'NETWORK' | 'CREDENTIALS' | 'FILE' | 'MONITOR';

/** What a rule produces for one event. */
export interface Finding {
  /** Rule id, e.g. 'memory.wx-mmap'. */
  rule: string;
  /** Same rule + same key = the same alert, counted. */
  key: string;
  level: Level;
  category: Category;
  title: string;
  description: string;
  evidence: string;
  pid: number;
  /**
   * The W+X memory region this finding stands for (scored per region). The
   * kernel reports each creation; /proc maps only show that a region exists,
   * so a maps region at an address the kernel already reported is not new.
   */
  wxRegion?: { start: number; from: 'kernel' | 'maps' };
  /** SSH credentials exposed (scored once). */
  ssh?: boolean;
  /**
   * Exposure, not behaviour: what the process could reach but was not seen
   * using (a secret in its environment). It adds its points but sets no
   * floor under the score. Everything a process did is behaviour, so a rule
   * that says nothing here is behaviour.
   */
  exposure?: boolean;
  /** Memory the runtime's JIT legitimately made code (not scored; /proc RWX regions inside it are expected). */
  jitRange?: { start: number; end: number };
}

export interface Alert extends Finding {
  /** Where in the process the first occurrence came from (eBPF, alert-worthy events; absent otherwise). */
  origin?: Origin;
  count: number;
  /** Epoch milliseconds. */
  firstSeen: number;
  lastSeen: number;
}

/** Distinct alerts kept by default: beyond it, only a rule not seen yet gets in. */
export const MAX_ALERTS = 1000;

/**
 * Collects findings into alerts: the first of a rule+key is new, the rest
 * count. Bounded: once `maxAlerts` are kept, a new key of a rule that already
 * has an alert is counted in `capped` and not kept. A new rule still gets in,
 * so every kind of behaviour stays on record and the score cannot drop (at
 * this many alerts it is 100 already, unless they are LOW or INFO).
 */
export class AlertBook {
  private readonly byKey = new Map<string, Alert>();
  private readonly rules = new Set<string>();
  /** Findings with a new key that were not kept because the book was full. */
  capped = 0;

  constructor(private readonly maxAlerts = MAX_ALERTS) {}

  /** Returns the alert if this finding is new, or null if it only raised a count (or was capped). */
  add(finding: Finding, now = Date.now()): Alert | null {
    const id = `${finding.rule}\u0000${finding.key}`;
    const known = this.byKey.get(id);
    if (known) {
      known.count++;
      known.lastSeen = now;
      return null;
    }
    if (this.byKey.size >= this.maxAlerts && this.rules.has(finding.rule)) {
      this.capped++;
      return null;
    }
    const alert: Alert = { ...finding, count: 1, firstSeen: now, lastSeen: now };
    this.byKey.set(id, alert);
    this.rules.add(finding.rule);
    return alert;
  }

  /**
   * For a finding whose count is measured rather than counted (events lost so
   * far): the first call makes the alert, later ones restate its text and set
   * its count. Returns the alert if it is new.
   */
  set(finding: Finding, count: number, now = Date.now()): Alert | null {
    const id = `${finding.rule}\u0000${finding.key}`;
    const known = this.byKey.get(id);
    if (known) {
      Object.assign(known, { level: finding.level, title: finding.title, description: finding.description, evidence: finding.evidence, count, lastSeen: now });
      return null;
    }
    const alert: Alert = { ...finding, count, firstSeen: now, lastSeen: now };
    this.byKey.set(id, alert);
    return alert;
  }

  /** Every alert, most severe first, then in the order they were first seen. */
  all(): Alert[] {
    const rank = (l: Level) => LEVELS.indexOf(l);
    return [...this.byKey.values()].sort((a, b) => rank(a.level) - rank(b.level) || a.firstSeen - b.firstSeen);
  }

  get size(): number {
    return this.byKey.size;
  }
}
