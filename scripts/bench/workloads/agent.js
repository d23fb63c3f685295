#!/usr/bin/env node
/*
 * One wasmshark monitoring job in a process of its own, for scripts/bench.js (scripts/bench/monitors.js):
 * the job's CPU time and peak RSS are then the monitor's alone, not the
 * bench's bookkeeping.
 *
 *   node scripts/bench/workloads/agent.js monitor PID [--no-bpf] [--exact] [--latency]   library monitor(PID)
 *   node scripts/bench/workloads/agent.js probes PID [PID...] [--exact] [--latency] [--no-compat]
 *                                                                      startProbes() + addTarget
 *   node scripts/bench/workloads/agent.js watch [PID...] [--exact]      library watch(): every runtime
 *                                                                      on the host, or only these PIDs
 *
 * --exact: the exact syscall hooks (`syscalls: 'exact'`, the CLI's
 * `--syscalls exact`) instead of the default lean ones.
 *
 * Prints `ready {json}` once attached (with the syscall hooks in use), then `result {json}` when the job
 * ends: when the first PID exits, or when stdin closes (then it stops).
 * With --latency it keeps a histogram of kernel-to-callback latency:
 * event.timeNs (CLOCK_MONOTONIC, stamped in the kernel at the syscall) to
 * the JS callback, for every W+X mmap event and for every alert.
 */
'use strict';
const path = require('path');

const t0 = process.hrtime.bigint();
const ROOT = path.resolve(__dirname, '..', '..', '..');
const [mode, ...rest] = process.argv.slice(2);
const pids = rest.filter((a) => /^\d+$/.test(a)).map(Number);
const flags = new Set(rest.filter((a) => a.startsWith('--')));
const LATENCY = flags.has('--latency');
const SYSCALLS = flags.has('--exact') ? 'exact' : 'lean';

/** Log-scale latency histogram: 1% wide buckets from 1 µs, fixed memory whatever the event count. */
class Histogram {
  constructor() {
    this.buckets = new Uint32Array(2400);
    this.n = 0;
    this.max = 0;
  }
  add(ns) {
    const v = ns < 1000 ? 1000 : ns;
    const i = Math.min(this.buckets.length - 1, Math.floor(Math.log(v / 1000) / Math.log(1.01)));
    this.buckets[i]++;
    this.n++;
    if (ns > this.max) this.max = ns;
  }
  quantile(q) {
    if (this.n === 0) return null;
    const want = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= want) return 1000 * Math.pow(1.01, i + 0.5);
    }
    return this.max;
  }
  summary() {
    const ms = (ns) => (ns === null ? null : Math.round(ns / 1e3) / 1e3);
    return { n: this.n, p50Ms: ms(this.quantile(0.5)), p99Ms: ms(this.quantile(0.99)), maxMs: ms(this.n ? this.max : null) };
  }
}

const eventLatency = new Histogram();
const alertLatency = new Histogram();
/** The last W+X mmap seen per pid: the event an alert for that pid comes from. */
const lastWx = new Map();
let wxEvents = 0;
let firstWxKernelNs = 0n;
let lastWxCallbackNs = 0n;

function onKernelEvent(e, now) {
  if (e.kind !== 'mmap' || (e.prot & 6) !== 6) return;
  wxEvents++;
  if (firstWxKernelNs === 0n) firstWxKernelNs = e.timeNs;
  lastWxCallbackNs = now;
  if (LATENCY) {
    eventLatency.add(Number(now - e.timeNs));
    lastWx.set(e.pid, e.timeNs);
  }
}

function print(tag, obj) {
  process.stdout.write(`${tag} ${JSON.stringify(obj)}\n`);
}

let cpu0;
let wall0;
let ended = false;

function finish(extra) {
  if (ended) return;
  ended = true;
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  print('result', {
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    wxEvents,
    // first W+X syscall in the kernel to the last W+X event in JS
    wxSpanMs: wxEvents ? Number(lastWxCallbackNs - firstWxKernelNs) / 1e6 : 0,
    eventLatency: eventLatency.summary(),
    alertLatency: alertLatency.summary(),
    ...extra,
  });
  process.exit(0);
}

function onStdinEnd(stop) {
  process.stdin.resume();
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
}

function runMonitor() {
  const { monitor } = require(path.join(ROOT, 'dist', 'index.js'));
  const requireMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const called = process.hrtime.bigint();
  const m = monitor(pids[0], { timeout: 0, bpf: flags.has('--no-bpf') ? false : true, syscalls: SYSCALLS });
  m.on('ready', (info) => {
    const readyMs = Number(process.hrtime.bigint() - called) / 1e6;
    cpu0 = process.cpuUsage();
    wall0 = process.hrtime.bigint();
    print('ready', { requireMs, readyMs, bpf: info.bpf, bpfError: info.bpfError, syscalls: info.syscalls });
  });
  m.on('event', (e) => onKernelEvent(e, process.hrtime.bigint()));
  if (LATENCY) {
    m.on('alert', (a) => {
      const now = process.hrtime.bigint();
      const at = lastWx.get(a.pid);
      if (a.rule === 'memory.wx-mmap' && at !== undefined) alertLatency.add(Number(now - at));
    });
  }
  m.on('warning', (w) => process.stderr.write(`agent: warning: ${w}\n`));
  m.on('error', (e) => process.stderr.write(`agent: error: ${e.message}\n`));
  onStdinEnd(() => void m.stop());
  m.done.then((report) =>
    finish({
      endReason: report.end_reason,
      delivered: report.events.by_kind.mmap ?? 0,
      eventsTotal: report.events.total,
      drops: report.drops,
      verdict: report.verdict,
      alerts: report.alerts.length,
    }),
  );
}

function runProbes() {
  const { startProbes } = require(path.join(ROOT, 'dist', 'probes.js'));
  const called = process.hrtime.bigint();
  const probes = startProbes({ syscalls: SYSCALLS, compatHooks: !flags.has('--no-compat') });
  for (const w of probes.hooks.warnings) process.stderr.write(`agent: warning: ${w}\n`);
  for (const pid of pids) probes.addTarget(pid);
  const readyMs = Number(process.hrtime.bigint() - called) / 1e6;
  let stopping = null;
  const stop = () => {
    if (!stopping) {
      stopping = probes.stop().then(() => {
        const d = probes.drops();
        finish({ delivered: wxEvents, drops: { total: d.total, mmap: d.byKind.mmap, stash: d.stash }, malformed: probes.malformed });
      });
    }
    return stopping;
  };
  probes.on('batch', (events) => {
    const now = process.hrtime.bigint();
    for (const e of events) {
      onKernelEvent(e, now);
      if (e.kind === 'exit' && e.pid === pids[0]) void stop();
    }
  });
  probes.on('error', (e) => process.stderr.write(`agent: error: ${e.message}\n`));
  cpu0 = process.cpuUsage();
  wall0 = process.hrtime.bigint();
  print('ready', { readyMs, syscalls: probes.hooks.syscalls, absent: probes.hooks.absent });
  onStdinEnd(() => void stop());
}

/*
 * The watch, as `wasmshark watch` runs it: with no PIDs every runtime on the
 * host (found by a scan at start and from exec events after), with PIDs only
 * those. Reports are made (a runtime that exits gets one) but not written.
 */
function runWatch() {
  const { watch } = require(path.join(ROOT, 'dist', 'index.js'));
  const called = process.hrtime.bigint();
  const w = watch(pids.length ? { pids, syscalls: SYSCALLS } : { runtimes: 'all', syscalls: SYSCALLS });
  const followed = () => Object.values(w.stats().runtimes.followed).reduce((a, b) => a + b, 0);
  w.once('ready', (info) => {
    const readyMs = Number(process.hrtime.bigint() - called) / 1e6;
    cpu0 = process.cpuUsage();
    wall0 = process.hrtime.bigint();
    print('ready', { readyMs, bpf: info.bpf, bpfError: info.bpfError, syscalls: SYSCALLS, execSource: info.execSource, followed: info.runtimes.length });
  });
  w.on('warning', (m) => process.stderr.write(`agent: warning: ${m}\n`));
  w.on('error', (e) => process.stderr.write(`agent: error: ${e.message}\n`));
  onStdinEnd(() => {
    const atEnd = { followed: followed(), byRuntime: w.stats().runtimes.followed };
    void w.stop().then((stats) => finish({ ...atEnd, eventsTotal: stats.events.total, unattributed: stats.events.unattributed, drops: stats.drops ?? { total: 0 } }));
  });
}

if ((pids.length === 0 && mode !== 'watch') || !['monitor', 'probes', 'watch'].includes(mode)) {
  process.stderr.write('usage: agent.js monitor PID [--no-bpf] [--exact] [--latency] | probes PID [PID...] [--exact] [--latency] | watch [PID...] [--exact]\n');
  process.exit(2);
}
if (mode === 'monitor') runMonitor();
else if (mode === 'probes') runProbes();
else runWatch();
