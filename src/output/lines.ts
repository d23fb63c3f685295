/**
 * One JSON object per line, for the pipelines people already run (a SIEM, a
 * log shipper, jq): the shape Falco's and Tetragon's output taught them.
 * Every line has the schema version, its type, an RFC 3339 `time`, the host,
 * the judged runtime's `pid` and `runtime` name, and a human `output`; what
 * is particular to the line is under `fields`. A field never changes meaning
 * within a schema version: a new meaning is a new field, or version 2.
 *
 * Types: 'alert' (a rule fired), 'event' (with --events: everything seen),
 * 'runtime' (the watch began following one), 'verdict' (a runtime's report).
 * The README documents each line.
 */
import * as os from 'os';
import type { Alert, Level } from '../alerts';
import type { RuntimeEvent } from '../events';
import { argvText, hex } from '../rules/format';
import { reportOrigin, safeJson, truncate, type Report } from '../report';
import type { Origin } from '../symbols/origin';
import type { RuntimeInfo } from '../runtime/identify';

export const LINE_SCHEMA_VERSION = 1;

/** Longest text in a line: the whole of it is in the report; a line stays small enough for syslog. */
const LINE_TEXT = 1024;
const LINE_ARGS = 16;
const LINE_ARG = 256;

/** The judged target a line is about. */
export interface LineTarget {
  pid: number;
  runtime: RuntimeInfo;
  exe: string;
  cmdline: string[];
}

interface LineBase {
  schema_version: number;
  type: 'alert' | 'event' | 'runtime' | 'verdict';
  time: string;
  hostname: string;
  tool: 'wasmshark';
  pid: number;
  runtime: string;
  output: string;
  fields: Record<string, unknown>;
}

export interface AlertLine extends LineBase {
  type: 'alert';
  rule: string;
  level: Level;
  category: string;
  title: string;
  evidence: string;
  /** Where in the process it came from: the same object as the report's alerts[].origin. */
  origin?: Origin;
}

export interface EventLine extends LineBase {
  type: 'event';
  kind: RuntimeEvent['kind'];
}

export interface RuntimeLine extends LineBase {
  type: 'runtime';
}

export interface VerdictLine extends LineBase {
  type: 'verdict';
  verdict: Report['verdict'];
  threat_score: number;
}

export type Line = AlertLine | EventLine | RuntimeLine | VerdictLine;

const text = (s: string) => truncate(s, LINE_TEXT);
const argv = (args: string[]) => args.slice(0, LINE_ARGS).map((a) => truncate(a, LINE_ARG));

/** The host name as lines carry it (looked up once: it is the same for every line). */
let hostname: string | null = null;
export function lineHostname(): string {
  hostname ??= os.hostname();
  return hostname;
}

/*
 * Kernel events carry CLOCK_MONOTONIC time. The offset to the wall clock is
 * taken again every minute, so a clock stepped by NTP is followed.
 */
let offsetMs = 0;
let offsetTakenAt = -Infinity;
export function wallTime(timeNs: bigint): number {
  const nowMono = Number(process.hrtime.bigint() / 1000n) / 1000;
  if (nowMono - offsetTakenAt > 60_000) {
    offsetMs = Date.now() - nowMono;
    offsetTakenAt = nowMono;
  }
  return offsetMs + Number(timeNs / 1000n) / 1000;
}

function base<T extends Line['type']>(type: T, t: LineTarget, time: number, output: string, fields: Record<string, unknown>) {
  return {
    schema_version: LINE_SCHEMA_VERSION,
    type,
    time: new Date(time).toISOString(),
    hostname: lineHostname(),
    tool: 'wasmshark' as const,
    pid: t.pid,
    runtime: t.runtime.name,
    output: text(output),
    fields,
  };
}

function runtimeFields(t: LineTarget): Record<string, unknown> {
  return { name: t.runtime.name, version: t.runtime.version, engine: t.runtime.engine, embedder: t.runtime.embedder ?? null };
}

export function alertLine(a: Alert, t: LineTarget): AlertLine {
  return {
    ...base('alert', t, a.firstSeen, `${a.level} ${a.category} ${a.rule} ${t.runtime.name}[${t.pid}]: ${a.title} (${a.evidence})`, {
      process: { pid: a.pid },
      description: text(a.description),
      runtime: runtimeFields(t),
      target: { exe: text(t.exe), cmdline: argv(t.cmdline) },
    }),
    rule: a.rule,
    level: a.level,
    category: a.category,
    title: text(a.title),
    evidence: text(a.evidence),
    ...(a.origin ? { origin: reportOrigin(a.origin) } : {}),
  };
}

/** The event's own fields, made JSON-safe: no bigint, long strings cut. */
function eventFields(e: RuntimeEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'kind' || k === 'timeNs') continue;
    if (typeof v === 'string') out[k] = text(v);
    else if (Array.isArray(v)) out[k] = v.slice(0, LINE_ARGS).map((x) => (typeof x === 'string' ? truncate(x, LINE_ARG) : x));
    else if (typeof v === 'bigint') out[k] = v.toString();
    else out[k] = v;
  }
  return out;
}

const PROT = (p: number) => `${p & 1 ? 'R' : '-'}${p & 2 ? 'W' : '-'}${p & 4 ? 'X' : '-'}`;

/** A short human summary of an event. */
function describeEvent(e: RuntimeEvent): string {
  switch (e.kind) {
    case 'mmap':
    case 'mprotect':
      return `${e.kind} prot=${PROT(e.prot)} addr=${hex(e.addr)} len=${e.length} result=${e.result}`;
    case 'exec':
      return `exec ${e.image || e.filename} argv=${argvText(e.argv)}${e.ok ? '' : ` failed=${e.result}`}`;
    case 'connect':
      return `connect ${e.family === 'unix' ? e.path : `${e.address}:${e.port}`} ${e.socketType} result=${e.result}`;
    case 'memfd':
      return `memfd_create name=${e.name} result=${e.result}`;
    case 'fork':
      return `${e.thread ? 'thread' : 'fork'} child=${e.childPid}`;
    case 'exit':
      return `exit ${e.signal !== null ? `signal=${e.signal}` : `code=${e.exitCode}`}`;
    case 'anon-syscall':
      return `syscall ${e.nr} from anonymous memory ${hex(e.vmaStart)}-${hex(e.vmaEnd)}`;
    case 'syscall':
      return `syscall ${e.name}`;
    case 'open':
      return `open ${e.file.path} fd=${e.fd}${e.write ? ' for writing' : ''}${e.uring ? ' (io_uring)' : ''}`;
    case 'path':
      return `${e.op} ${e.path || e.name}${e.source ? ` from ${e.source}` : ''}${e.uring ? ' (io_uring)' : ''}`;
    case 'stack':
      return `user stack of ${e.eventKind}: ${e.frames.length} frames`;
    case 'env':
      return `environment ${e.names.length} names`;
    case 'file':
      return `open fd=${e.fd} ${e.path}`;
    case 'connection':
      return `${e.protocol} ${e.localAddress}:${e.localPort} -> ${e.remoteAddress}:${e.remotePort} ${e.state}`;
    case 'rwx-region':
      return `rwx region ${hex(e.start)}-${hex(e.end)} ${e.path || '[anonymous]'}`;
    case 'process':
      return `process ${e.exe || e.comm} argv=${argvText(e.argv)}`;
    case 'target-exit':
      return 'target exited';
  }
}

export function eventLine(e: RuntimeEvent, t: LineTarget): EventLine {
  const time = 'timeNs' in e ? wallTime(e.timeNs) : Date.now();
  return { ...base('event', t, time, `${t.runtime.name}[${t.pid}] pid=${e.pid} ${describeEvent(e)}`, eventFields(e)), kind: e.kind };
}

export function runtimeLine(t: LineTarget, foundBy: string, id: string): RuntimeLine {
  const version = t.runtime.version ? ` ${t.runtime.version}` : '';
  return base('runtime', t, Date.now(), `following ${t.runtime.name}${version} pid ${t.pid} (found by ${foundBy}): ${argvText(t.cmdline)}`, {
    found_by: foundBy,
    id,
    runtime: { ...runtimeFields(t), jit: t.runtime.jit },
    target: { exe: text(t.exe), cmdline: argv(t.cmdline) },
  });
}

export function verdictLine(r: Report, t: LineTarget, file: string | null): VerdictLine {
  const levels: Record<string, number> = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFO: 0 };
  for (const a of r.alerts) levels[a.level]++;
  const output = `${t.runtime.name}[${t.pid}] ${r.verdict} ${r.threat_score.toFixed(1)}/100, ${r.alerts.length} alerts (${r.end_reason})`;
  return {
    ...base('verdict', t, Date.parse(r.ended_at), output, {
      end_reason: r.end_reason,
      duration: r.duration,
      alerts: levels,
      report: file,
      runtime: runtimeFields(t),
      target: { exe: text(t.exe), cmdline: argv(t.cmdline) },
    }),
    verdict: r.verdict,
    threat_score: r.threat_score,
  };
}

/** The line as text (no newline): well-formed, nothing a terminal would act on. */
export function lineJson(line: Line): string {
  return safeJson(line);
}
