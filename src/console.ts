/**
 * The terminal view: banner, each alert as it happens, a progress line on a
 * TTY, and the summary block the seed shows. Everything that came from the
 * target (paths, argv, comm) is escaped here, so a monitored process cannot
 * move the cursor, recolour or retitle the analyst's terminal.
 */
import type { Alert, Level } from './alerts';
import type { MonitorInfo } from './monitor';
import type { WatchInfo, WatchStats, WatchedRuntime } from './watch';
import { describeRuntime } from './runtime/identify';
import type { Report, ReportUser } from './report';
import { floorDecided } from './score';
import { originLine } from './symbols/origin';

const MAX_LINE = 400;

/**
 * Control characters (C0, DEL, C1), bidirectional overrides and lone
 * surrogates become visible escapes; long text is cut with a marker.
 */
export function escapeText(text: string, max = MAX_LINE): string {
  let out = '';
  let shown = 0;
  for (const ch of text) {
    if (shown >= max) {
      return `${out}…[+${[...text].length - shown} chars]`;
    }
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
      out += `\\x${cp.toString(16).padStart(2, '0')}`;
    } else if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x200e || cp === 0x200f || cp === 0x061c) {
      out += `\\u{${cp.toString(16)}}`;
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      out += '\ufffd';
    } else {
      out += ch;
    }
    shown++;
  }
  return out;
}

/** What decided the score, when it was not the sum: the alert that set the floor. */
function scoreNote(report: Report): string {
  const b = report.score_breakdown;
  if (!b.floor || !floorDecided(b)) return '';
  return `  (floor: ${b.floor.level} ${escapeText(b.floor.rule, 80)})`;
}

/** `alice (uid 1000, gid 1000, groups 27,1000)`; a uid without a name shows as the number. */
export function describeUser(u: ReportUser): string {
  const groups = u.groups.length ? `, groups ${u.groups.join(',')}` : '';
  return u.name !== null ? `${u.name} (uid ${u.uid}, gid ${u.gid}${groups})` : `uid ${u.uid} (gid ${u.gid}${groups})`;
}

interface Palette {
  level(level: Level, text: string): string;
  bold(text: string): string;
  dim(text: string): string;
  verdict(verdict: string, text: string): string;
}

const SGR = (code: string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const COLOURS: Palette = {
  level: (level, text) =>
    ({ CRITICAL: SGR('1;41;97'), HIGH: SGR('1;31'), MEDIUM: SGR('33'), LOW: SGR('36'), INFO: SGR('2') })[level](text),
  bold: SGR('1'),
  dim: SGR('2'),
  verdict: (v, text) =>
    (({ MALICIOUS: SGR('1;31'), SUSPICIOUS: SGR('1;33'), POTENTIALLY_UNWANTED: SGR('33'), CLEAN: SGR('1;32') }) as Record<string, (t: string) => string>)[v]?.(text) ?? text,
};
const PLAIN: Palette = { level: (_l, t) => t, bold: (t) => t, dim: (t) => t, verdict: (_v, t) => t };

/** Colour when writing to a terminal, unless NO_COLOR is set (any value) or TERM is dumb. */
export function wantsColour(stream: NodeJS.WritableStream & { isTTY?: boolean }, env = process.env): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

export interface RendererOptions {
  colour: boolean;
  /** Show a live progress line (stderr must be a terminal). */
  progress: boolean;
  timeout: number;
  output?: string;
}

const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

export class ConsoleRenderer {
  private readonly p: Palette;
  private progressShown = false;
  private spin = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly err: NodeJS.WritableStream,
    private readonly options: RendererOptions,
  ) {
    this.p = options.colour ? COLOURS : PLAIN;
  }

  banner(info: MonitorInfo, version: string): void {
    const cmd = info.cmdline.length ? info.cmdline.join(' ') : info.comm;
    const lines = [
      this.p.bold(`wasmshark ${version} — eBPF runtime monitor for WebAssembly runtimes`),
      `Target         : pid ${info.pid}${info.launched ? ' (launched)' : ''}  ${escapeText(cmd)}`,
    ];
    if (info.exe) lines.push(`Executable     : ${escapeText(info.exe)}`);
    lines.push(`Runtime        : ${escapeText(describeRuntime(info.runtime))}`);
    if (info.user) lines.push(`User           : ${escapeText(describeUser(info.user))}`);
    lines.push(
      `Probes         : ${
        !info.bpf
          ? '/proc polling'
          : info.syscalls === 'exact'
            ? 'eBPF (every syscall, exact counts; sched tracepoints) + /proc'
            : 'eBPF (tracepoints on the syscalls the rules need; sched tracepoints) + /proc'
      }`,
      `Timeout        : ${this.options.timeout > 0 ? `${this.options.timeout} s` : 'none (until the target exits or Ctrl-C)'}`,
    );
    if (this.options.output) lines.push(`Report         : ${escapeText(this.options.output)}`);
    this.write(`${lines.join('\n')}\n\n`);
  }

  warning(message: string): void {
    this.clearProgress();
    this.err.write(`wasmshark: warning: ${escapeText(message)}\n`);
  }

  /** An alert; `who` names the runtime it is about when several are watched. */
  alert(a: Alert, who?: string): void {
    const head = `${this.p.level(a.level, `[${a.level}]`)} ${a.category.padEnd(7)} ${this.p.bold(escapeText(a.title))}${who ? `  ${this.p.dim(escapeText(who))}` : ''}`;
    const indent = ' '.repeat(11);
    this.write(`${head}\n${indent}${escapeText(a.description)}\n${indent}${this.p.dim(escapeText(a.evidence))}\n`);
    if (a.origin) this.write(`${indent}${this.p.dim(escapeText(originLine(a.origin)))}\n`);
  }

  /** Redraws the one-line status on stderr (terminal only). */
  progress(elapsedSec: number, events: number, alerts: number): void {
    if (!this.options.progress) return;
    const frame = SPINNER[this.spin++ % SPINNER.length];
    const limit = this.options.timeout > 0 ? `/${this.options.timeout}s` : 's';
    this.err.write(`\r\x1b[2K${frame} monitoring… ${Math.floor(elapsedSec)}${limit}  ${events} events  ${alerts} alerts`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (this.progressShown) this.err.write('\r\x1b[2K');
    this.progressShown = false;
  }

  summary(report: Report, written: string | null): void {
    const count = (level: Level) => report.alerts.filter((a) => a.level === level).length;
    const rows = [
      ['Verdict', this.p.verdict(report.verdict, report.verdict)],
      ['Threat Score', `${report.threat_score.toFixed(1)}/100${scoreNote(report)}`],
      ['eBPF Active', report.bpf_used ? '✓ kprobe/tracepoint' : `✗ /proc polling only${report.bpf_error ? ` (${escapeText(report.bpf_error, 120)})` : ''}`],
      // so a CLEAN from a degraded run is never read as a CLEAN from a full one
      ['Coverage', report.coverage.level === 'full' ? 'full' : `partial (${escapeText(report.coverage.reasons.join('; '), 240)})`],
      ['Alerts', `${count('CRITICAL')} critical, ${count('HIGH')} high, ${count('MEDIUM')} medium, ${count('LOW') + count('INFO')} low/info`],
      ['Connections', `${report.new_connections} new`],
      ['RWX regions', String(report.rwx_regions)],
    ];
    if (report.syscalls.top.length > 0) {
      const top = report.syscalls.top.slice(0, 5).map((s) => `${s.name} ${s.count}`);
      rows.push(['Top syscalls', `${top.join(', ')}${report.syscalls.source === 'sampled' ? ' (sampled)' : ''}`]);
    }
    if (report.drops.total > 0) rows.push(['Dropped events', `${report.drops.total} (ring buffer full; counted, see report)`]);
    rows.push(['Duration', `${report.duration.toFixed(2)} s (${report.end_reason})`]);
    if (written) rows.push(['Report', escapeText(written)]);
    this.write(`\n${rows.map(([k, v]) => `${k.padEnd(15)}: ${v}`).join('\n')}\n`);
  }

  /* ---- the watch: many runtimes, each begun and ended on its own line ---- */

  watchBanner(info: WatchInfo, version: string, metricsUrl: string | null): void {
    const lines = [
      this.p.bold(`wasmshark ${version} — watching the WebAssembly runtimes on this host`),
      `Runtimes       : ${escapeText(info.selection)}`,
      `Probes         : ${info.bpf ? 'eBPF (syscall and sched tracepoints) + /proc' : '/proc polling'}`,
      `New runtimes   : ${info.execSource === 'kernel' ? "from the kernel's exec events" : `by scanning /proc every ${info.rescanIntervalMs} ms`}`,
      `Timeout        : ${this.options.timeout > 0 ? `${this.options.timeout} s` : 'none (until Ctrl-C or SIGTERM)'}`,
    ];
    if (info.outputDir) lines.push(`Reports        : ${escapeText(info.outputDir)}/<pid>-<starttime>.json`);
    if (metricsUrl) lines.push(`Metrics        : ${metricsUrl}`);
    this.write(`${lines.join('\n')}\n\n`);
  }

  runtimeFound(rt: WatchedRuntime): void {
    const how = { scan: 'running at start', exec: 'started', rescan: 'found by rescan', pid: 'given by --pid', library: 'loaded a runtime library' }[rt.foundBy];
    const cmd = rt.cmdline.length ? rt.cmdline.join(' ') : rt.comm;
    this.write(`${this.p.bold(`+ ${escapeText(rt.runtime.name)}[${rt.pid}]`)} ${how}: ${escapeText(describeRuntime(rt.runtime))}  ${this.p.dim(escapeText(cmd, 200))}\n`);
  }

  runtimeEnded(report: Report, rt: WatchedRuntime, file: string | null): void {
    const parts = [
      this.p.verdict(report.verdict, report.verdict),
      `${report.threat_score.toFixed(1)}/100`,
      `${report.alerts.length} alerts`,
      report.end_reason,
    ];
    if (file) parts.push(`report ${escapeText(file)}`);
    this.write(`${this.p.bold(`= ${escapeText(rt.runtime.name)}[${rt.pid}]`)} ${parts.join(' · ')}\n`);
  }

  watchSummary(stats: WatchStats, seconds: number): void {
    const judged = Object.entries(stats.verdicts).filter(([, n]) => n > 0);
    const rows = [
      ['Runtimes', `${judged.reduce((a, [, n]) => a + n, 0)} judged${judged.length ? ` (${judged.map(([v, n]) => `${n} ${this.p.verdict(v, v)}`).join(', ')})` : ''}`],
      ['Events', `${stats.events.total}${stats.drops && stats.drops.total > 0 ? `, ${stats.drops.total} dropped (ring buffer full; counted)` : ''}`],
      ['Alerts', `${stats.alerts.CRITICAL} critical, ${stats.alerts.HIGH} high, ${stats.alerts.MEDIUM} medium, ${stats.alerts.LOW + stats.alerts.INFO} low/info`],
    ];
    const capped = Object.entries(stats.capped).filter(([, n]) => n > 0);
    if (capped.length) rows.push(['Limits reached', capped.map(([k, n]) => `${k} ${n}`).join(', ')]);
    if (stats.reports.written + stats.reports.failed > 0) rows.push(['Reports', `${stats.reports.written} written${stats.reports.failed ? `, ${stats.reports.failed} failed` : ''}`]);
    rows.push(['Duration', `${seconds.toFixed(2)} s`]);
    this.write(`\n${rows.map(([k, v]) => `${k.padEnd(15)}: ${v}`).join('\n')}\n`);
  }

  private write(text: string): void {
    this.clearProgress();
    this.out.write(text);
  }
}
