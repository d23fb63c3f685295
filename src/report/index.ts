/**
 * The JSON report: the seed's fields first, exactly as it names and types
 * them, then richer fields. Its home: the shape and its JSON text here, the
 * output-path check and the atomic write in write.ts, the watch's queue of
 * reports to write in queue.ts. (A case builds its report: Case.report.)
 */
import type { Alert, Category, Level } from '../alerts';
import type { Coverage } from '../coverage';
import type { Origin, PerfMapStatus } from '../symbols/origin';
import type { ScoreBreakdown, Verdict } from '../score';

export { checkOutputPath, writeReport } from './write';

export const SCHEMA_VERSION = 1;

export interface ReportAlert {
  level: Level;
  category: Category;
  title: string;
  description: string;
  evidence: string;
  rule: string;
  /** With the rule, names the alert (the score breakdown refers to alerts by both). */
  key: string;
  count: number;
  first_seen: string;
  last_seen: string;
  pid: number;
  /**
   * Where in the process it came from (eBPF only, alert-worthy events): the
   * user stack the kernel walked, named frame by frame, and a summary of the
   * innermost WASM function, the import it called through and the host
   * function. `note` says why no WASM function is named, when none is.
   */
  origin?: Origin;
}

/** How the report's origins were named: the JIT maps read, and why WASM functions may go unnamed. */
export interface ReportSymbols {
  enabled: boolean;
  /** JIT symbol maps looked at (/tmp/perf-PID.map): found, entries read, lines rejected, a limit hit. */
  perf_maps: PerfMapStatus[];
  /** Why alerts' WASM functions cannot be named (no map, a runtime that writes none), or null. */
  note: string | null;
}

export interface ReportChild {
  pid: number;
  ppid: number;
  program: string;
  argv: string[];
  exit_code: number | null;
  signal: number | null;
}

export interface ReportConnection {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  state: string;
  pid: number;
}

/** The user a process runs as: effective ids, and its groups. */
export interface ReportUser {
  uid: number;
  gid: number;
  /** From the user database; null when the uid has none. */
  name: string | null;
  groups: number[];
}

export type EndReason = 'timeout' | 'target-exit' | 'interrupted' | 'stopped' | 'error';

export interface Report {
  pid: number;
  verdict: Verdict;
  threat_score: number;
  bpf_used: boolean;
  duration: number;
  alerts: ReportAlert[];
  new_connections: number;
  rwx_regions: number;
  /** What threat_score is made of: min(100, max(sum, floor)). */
  score_breakdown: ScoreBreakdown;
  schema_version: number;
  tool: { name: string; version: string };
  mode: 'bpf' | 'proc';
  /** Why eBPF was not used, when it was asked for. */
  bpf_error: string | null;
  started_at: string;
  ended_at: string;
  end_reason: EndReason;
  target: {
    pid: number;
    comm: string;
    exe: string;
    cmdline: string[];
    launched: boolean;
    exit_code: number | null;
    exit_signal: number | null;
    /** The WebAssembly runtime identified from the executable and its mappings. */
    /** `embedder`: the program a runtime library is embedded in (null for a runtime's own executable). */
    runtime: { name: string; engine: string; version: string | null; jit: string; embedder: string | null };
    /** Who it runs as (in launch mode, who it was started as); null if it was gone before it could be read. */
    user: ReportUser | null;
  };
  children: ReportChild[];
  connections: ReportConnection[];
  syscalls: { source: 'bpf' | 'sampled' | 'none'; total: number; top: Array<{ name: string; nr: number; count: number }> };
  events: { total: number; by_kind: Record<string, number> };
  /** stacks: user stacks lost after their event got through (the alert stands, without its origin); not in total. */
  drops: { total: number; by_kind: Record<string, number>; stash: number; stacks?: number; userspace: number; malformed: number };
  /** What the verdict rests on: probes, hooks, what could and could not be seen, and whether that is everything. */
  coverage: Coverage;
  /** What was not kept because a limit was reached (children, connections, alerts, memfd/socket handles). */
  capped: { children: number; connections: number; alerts: number; handles: number };
  symbols: ReportSymbols;
}

/** Longest string kept in the report; longer ones are cut with a marker. */
export const MAX_STRING = 4096;

export function truncate(s: string, max = MAX_STRING): string {
  if (s.length <= max) return s;
  // Never between the halves of a surrogate pair: half a character is not Unicode, and strict JSON readers reject it.
  const last = s.charCodeAt(max - 1);
  const cut = last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
  return `${s.slice(0, cut)}…[+${s.length - cut} chars]`;
}

export function reportAlert(a: Alert): ReportAlert {
  return {
    level: a.level,
    category: a.category,
    title: truncate(a.title),
    description: truncate(a.description),
    evidence: truncate(a.evidence),
    rule: a.rule,
    key: truncate(a.key),
    count: a.count,
    first_seen: new Date(a.firstSeen).toISOString(),
    last_seen: new Date(a.lastSeen).toISOString(),
    pid: a.pid,
    ...(a.origin ? { origin: reportOrigin(a.origin) } : {}),
  };
}

/** An origin with the target's strings (JIT map names, file paths) cut to the report's limit. */
export function reportOrigin(o: Origin): Origin {
  const cut = (s: string | null) => (s === null ? null : truncate(s, 1024));
  return {
    wasm: o.wasm && { ...o.wasm, function: truncate(o.wasm.function, 1024) },
    import: o.import && { ...o.import, name: truncate(o.import.name, 1024), module: cut(o.import.module) },
    host: o.host && { ...o.host, function: truncate(o.host.function, 1024), file: cut(o.host.file) },
    summary: truncate(o.summary),
    note: o.note,
    frames: o.frames.map((f) => ({ ...f, object: cut(f.object), symbol: cut(f.symbol) })),
  };
}

/** The breakdown for the report: keys cut as the alerts' are, so each still matches its alert. */
export function reportScoreBreakdown(b: ScoreBreakdown): ScoreBreakdown {
  return {
    ...b,
    contributions: b.contributions.map((c) => ({ ...c, key: truncate(c.key) })),
    ssh: { ...b.ssh, key: b.ssh.key === null ? null : truncate(b.ssh.key) },
    floor: b.floor && { ...b.floor, key: truncate(b.floor.key) },
  };
}

/** Half a surrogate pair: JSON.stringify writes it as a \ud800 escape, which strict JSON readers reject. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** What JSON.stringify leaves raw but a terminal acts on: DEL, C1 controls (U+009B is CSI), bidi controls, line separators. */
const TERMINAL_CONTROLS = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * The report as JSON text: well-formed Unicode, and safe to print, since it
 * goes to the analyst's terminal when it cannot be written (and to `cat`).
 * Target-chosen text keeps its meaning: a \u escape reads back as the same
 * character, and these characters can only occur inside strings.
 */
export function reportJson(report: Report): string {
  return `${safeJson(report, 2)}\n`;
}

/** JSON text as reportJson writes it (well-formed, safe to print), for any value; one line without `indent`. */
export function safeJson(value: unknown, indent?: number): string {
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v), indent);
  return json.replace(TERMINAL_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
