/*
 * The report: the goals judged from a run's results, and the markdown
 * tables (bench-results/bench.md, and the tables in docs/benchmarks.md).
 */
'use strict';
const { median } = require('./util');

const f0 = (x) => (x === null || x === undefined ? '–' : Math.round(x).toLocaleString('en'));
const f1 = (x) => (x === null || x === undefined ? '–' : x.toFixed(1));
const f3 = (x) => (x === null || x === undefined ? '–' : x.toFixed(3));

/**
 * The goals of lean hooks by default, each met, not met, or not judged (null: its comparison
 * was not measured in this run). Overheads are judged on CPU time: wall time
 * also counts time spent preempted by whatever else runs.
 */
function goals(r) {
  const out = [];
  const goal = (name, met, measured) => out.push({ goal: name, met, measured });
  const x3 = (v) => `×${f3(v)}`;
  if (r.hookCost) {
    const row = (config, role) => r.hookCost.results.find((x) => x.config === config && x.role === role);
    for (const role of ['target', 'bystander']) {
      const ws = row('wasmshark', role);
      const bt = row('bpftrace', role);
      const ex = row('wasmshark-exact', role);
      goal(`default mode: ${role} overhead ≤ bpftrace's`, bt ? ws.cpuRatio <= bt.cpuRatio : null,
        `CPU time vs unmonitored: monitor() ${x3(ws.cpuRatio)}` + (bt ? ` vs bpftrace ${x3(bt.cpuRatio)}` : ' (no bpftrace)') +
        (ex ? `; --syscalls exact ${x3(ex.cpuRatio)}` : '') + `; wall time ${x3(ws.ratio)}` + (bt ? ` vs ${x3(bt.ratio)}` : ''));
    }
  }
  if (r.busy?.workerd) {
    const row = (c) => r.busy.workerd.rows.find((x) => x.config === c);
    const ws = row('wasmshark');
    const bt = row('bpftrace');
    const ex = row('wasmshark-exact');
    const p99 = (x) => `p99 ${f1(x.p99Us.median / 1000)} ms`;
    goal('busy workerd: requests/s under wasmshark ≥ under bpftrace', bt ? ws.rps.ratio >= bt.rps.ratio : null,
      `${x3(ws.rps.ratio)} of unmonitored (${p99(ws)})` + (bt ? ` vs bpftrace ${x3(bt.rps.ratio)} (${p99(bt)})` : ' (no bpftrace)') +
      (ex ? `; --syscalls exact ${x3(ex.rps.ratio)}` : '') + `; unmonitored ${f0(row('unmonitored').rps.median)} req/s, ${p99(row('unmonitored'))}`);
    goal('busy workerd: requests/s under wasmshark ≥ 0.97 of unmonitored (aim)', ws.rps.ratio >= 0.97,
      `${x3(ws.rps.ratio)} [IQR ${f3(ws.rps.ratioIqr[0])}–${f3(ws.rps.ratioIqr[1])}], medians of per-round ratios`);
  }
  if (r.startup) {
    const s = r.startup;
    goal('CLI start-up to report ≤ 150 ms', s.cliLeanReportMs <= 150,
      `\`wasmshark --timeout 10 -- /bin/true\`: report written at ${f0(s.cliLeanReportMs)} ms (--syscalls exact: ${f0(s.cliExactReportMs)} ms), median of ${s.rounds}`);
    goal('CLI whole `-- /bin/true` run ≤ 150 ms', s.cliLeanWholeMs <= 150,
      `${f0(s.cliLeanWholeMs)} ms, detach included (--syscalls exact: ${f0(s.cliExactWholeMs)} ms)`);
  }
  if (r.sustained) {
    const sw = r.sustained.rows.find((x) => x.config === 'wasmshark');
    const bt = r.sustained.rows.find((x) => x.config === 'bpftrace');
    const none = sw.drops === 0 && sw.lost === 0;
    goal(`sustained ${r.sustained.rate.toLocaleString('en')} events/s: 0 drops, monitor CPU ≤ bpftrace's`, !none ? false : bt ? sw.cpuPercent <= bt.cpuPercent : null,
      `${f0(sw.drops)} dropped, ${f0(sw.lost)} lost of ${f0(sw.expected)} (${f0(sw.achievedRate)}/s); monitor() ${f0(sw.cpuPercent)}% of a core` +
      (bt ? ` vs bpftrace ${f0(bt.cpuPercent)}%` : ' (no bpftrace)') + `, median of ${r.sustained.rounds}`);
  }
  if (r.latency) {
    goal('alert latency p99 ≤ 50 ms', r.latency.alert.p99Ms !== null && r.latency.alert.p99Ms <= 50,
      `alert p99 ${r.latency.alert.p99Ms} ms (p50 ${r.latency.alert.p50Ms}, n=${r.latency.alert.n}); event p99 ${r.latency.event.p99Ms} ms`);
  }
  if (r.burst) {
    const bw = r.burst.rows.find((x) => x.config === 'wasmshark');
    const bp = r.burst.rows.find((x) => x.config === 'wasmshark-probes');
    goal('burst: monitor() peak RSS ≤ 120 MB, nothing lost', bw.peakRssMb <= 120 && bw.drops === 0 && bw.lost === 0,
      `${bw.peakRssMb} MB, ${f0(bw.drops)} dropped, ${f0(bw.lost)} lost of ${f0(bw.expected)} (startProbes() only: ${bp.peakRssMb} MB)`);
  }
  if (r.idle) {
    const id = r.idle;
    goal('idle CPU ≤ 1%, default (lean) mode', id.leanCpuPercent <= 1, `${id.leanCpuPercent.toFixed(2)}% (monitor(pid), syscalls sampled from /proc every 200 ms)`);
    goal('idle CPU ≤ 1%, --syscalls exact', id.exactCpuPercent <= 1, `${id.exactCpuPercent.toFixed(2)}% (monitor(pid, { syscalls: 'exact' }))`);
    goal('idle CPU ≤ 1%, /proc fallback', id.procCpuPercent <= 1, `${id.procCpuPercent.toFixed(2)}% (monitor(pid, { bpf: false }), default intervals)`);
  }
  if (r.watch) {
    const w = r.watch;
    // judged on the watch of the idle runtimes' pids: the watch of every runtime also follows whatever else the host runs
    goal(`watch following ${w.runtimes} idle runtimes: CPU ≤ 1% of one CPU`, w.idle.onlyCpuPercent <= 1,
      `${w.idle.onlyCpuPercent.toFixed(2)}% (\`watch({ pids })\`), median of ${w.idle.rounds} windows of ${w.idle.seconds} s; ` +
      `every runtime on the host ${w.idle.allCpuPercent.toFixed(2)}% (${w.idle.followedAll.atStart} followed); monitor(pid) of one ${w.idle.singleCpuPercent.toFixed(2)}%`);
    const row = (c) => w.bystander.results.find((x) => x.config === c);
    const ws = row('watch');
    const one = row('wasmshark');
    if (ws?.cpuRatio && one?.cpuRatio) {
      goal('watch: bystander overhead no more than the single-target monitor\'s', ws.cpuRatio.median <= one.cpuRatio.median * 1.01,
        `churn loop's CPU time vs unmonitored: watch ×${f3(ws.cpuRatio.median)}, monitor() ×${f3(one.cpuRatio.median)}; watch / monitor() ×${f3(ws.cpuRatioToMonitor?.median)} (within 1% counts as met)`);
    }
  }
  return out;
}

function markdown(r) {
  const L = [];
  const table = (head, rows) => {
    L.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const row of rows) L.push(`| ${row.join(' | ')} |`);
    L.push('');
  };
  const m = r.machine;
  const h = r.hooks;
  L.push(`Run ${r.when} on ${m.cpu} (${m.cpus} CPUs, ${m.memGb} GB), Linux ${m.kernel}, Node ${m.node}, ${m.bpftrace ?? 'no bpftrace'}. ` +
    `Load average at start ${m.loadavg}. wasmshark's lean hooks here: ${h.leanSyscallTracepoints} syscall tracepoints + ${h.lean.length - h.leanSyscallTracepoints} sched` +
    (h.absent.length ? ` (no tracepoint on this kernel: ${h.absent.join(', ')})` : '') +
    `; tracefs ${m.tracefs.mounted ? `mounted by the bench at ${m.tracefs.dir}` : `at ${m.tracefs.dir}`}.`, '');
  if (r.hookCost) hookTable(r, L, table);
  if (r.startup) startupTable(r, L, table);
  if (r.burst || r.sustained) throughputTables(r, L, table);
  if (r.latency) latencyTable(r, L, table);
  if (r.idle) idleTable(r, L, table);
  if (r.busy) busyTables(r, L, table);
  if (r.watch) watchTables(r, L, table);
  L.push('**Goals** (CPU time; medians of interleaved rounds; ratios against unmonitored in the same round)', '');
  table(['goal', 'met', 'measured'], r.goals.map((g) => [g.goal, g.met === null ? 'not judged' : g.met ? 'met' : '**not met**', g.measured]));
  return L.join('\n');
}

function hookTable(r, L, table) {
  L.push(`**1 + 2. Cost on a syscall-heavy loop** (\`${r.hookCost.loop}\`${r.hookCost.loop.startsWith('trigger') ? ': RW mmap + munmap' : ': one getppid() per iteration'}), ` +
    `medians of ${r.hookCost.roundsUsed} clean rounds of ${r.hookCost.rounds}, configurations interleaved; ratios are medians of per-round ratios (IQR in brackets). ` +
    `Target: the loop is the monitored process. Bystander: an idle \`sleep\` is monitored, the loop is not.`, '');
  const rows = [];
  const x3 = (v) => (v === null ? '' : `×${f3(v)}`);
  for (const role of ['target', 'bystander']) {
    for (const x of r.hookCost.results.filter((y) => y.role === role)) {
      rows.push([role, x.label, f0(x.nsPerIteration), `${x3(x.ratio)} [${f3(x.ratioIqr[0])}–${f3(x.ratioIqr[1])}]`, x3(x.ratioToFloor),
        f0(x.cpuNsPerIteration), `${x3(x.cpuRatio)} [${f3(x.cpuRatioIqr[0])}–${f3(x.cpuRatioIqr[1])}]`, x3(x.cpuRatioToFloor)]);
    }
  }
  table(['loop is', 'configuration', 'wall ns/iter', 'vs unmonitored', 'vs its floor', 'CPU ns/iter', 'vs unmonitored', 'vs its floor'], rows);
  L.push(`Machine busy during the loop (whole machine; the loop alone is 50%): median ${f0(100 * median(r.hookCost.results.map((x) => x.machineBusy)))}%. ` +
    `Samples redone because another process had syscall hooks attached: ${r.hookCost.discardedForForeignHooks}` +
    (r.hookCost.foreignHookOwners.length ? ` (${r.hookCost.foreignHookOwners.join(', ')})` : '') +
    `; waited ${f1(r.hookCost.waitedForQuietMs / 1000)} s for them to go.`, '');
}

function startupTable(r, L, table) {
  const s = r.startup;
  L.push(`**3. Start-up** (medians of ${s.rounds} interleaved rounds)`, '');
  const st = [
    ['`wasmshark --timeout 10 -- /bin/true`: launch to report written', `${f0(s.cliLeanReportMs)} ms`, `${f0(s.cliExactReportMs)} ms`],
    ['… whole command (detach included)', `${f0(s.cliLeanWholeMs)} ms`, `${f0(s.cliExactWholeMs)} ms`],
    ['library `monitor(pid)` to `ready` (fresh process: first addon load included)', `${f1(s.monitorReadyMs)} ms`, `${f1(s.monitorExactReadyMs)} ms`],
    ['node process start + require + `monitor()` to `ready`', `${f0(s.monitorProcessReadyMs)} ms`, ''],
  ];
  if (r.attach) {
    const a = r.attach;
    st.push([`\`startProbes()\` load + attach (in-process, median of ${a.n}; programs attached)`,
      `${f1(a.lean.attachMs)} ms (${a.lean.programs})`, `${f1(a.exact.attachMs)} ms (${a.exact.programs})`]);
    st.push(['`stop()` to drained (everything delivered) / to detached', `${f1(a.lean.drainedMs)} / ${f1(a.lean.stopMs)} ms`, `${f1(a.exact.drainedMs)} / ${f1(a.exact.stopMs)} ms`]);
  }
  if (s.bpftraceAttachedMs !== null) {
    st.push(['bpftrace, seed\'s four probes: launch to probes attached', `${f0(s.bpftraceAttachedMs)} ms`, '']);
    st.push(['bpftrace: SIGINT to exit (detach)', `${f0(s.bpftraceDetachMs)} ms`, '']);
    st.push(['bpftrace with `BEGIN { exit() }`: whole command', `${f0(s.bpftraceWholeMs)} ms`, '']);
  }
  table(['measure', 'wasmshark (lean) / bpftrace', '--syscalls exact'], st);
}

function throughputTables(r, L, table) {
  if (r.burst) {
    L.push(`**4. Throughput and loss.** Burst: \`trigger wx ${r.burst.events}\` (W+X mmap+munmap at full speed), median of ${r.burst.rows[0].runs}. ` +
    `Events/s: first W+X syscall in the kernel to the last event delivered. CPU and peak RSS: the monitoring process.`, '');
  table(['burst', 'delivered', 'dropped (counted)', 'lost', 'target run', 'events/s delivered', 'monitor CPU', 'peak RSS'],
    r.burst.rows.map((x) => [x.label, f0(x.delivered), f0(x.drops), f0(x.lost), `${f0(x.targetRunMs)} ms`, f0(x.eventsPerSec), `${f0(x.monitorCpuMs)} ms`, `${x.peakRssMb} MB`]));
  }
  if (!r.sustained) return;
  L.push(`Sustained: \`paced rate ${r.sustained.rate} ${r.sustained.seconds}\` (W+X mmap+munmap paced at ${r.sustained.rate.toLocaleString('en')}/s for ${r.sustained.seconds} s), ` +
    `medians of ${r.sustained.rounds} interleaved rounds.`, '');
  table(['sustained', 'achieved rate', 'delivered', 'dropped (counted)', 'lost', 'monitor CPU', 'peak RSS', 'event latency p50 / p99'],
    r.sustained.rows.map((x) => [x.label, `${f0(x.achievedRate)}/s`, f0(x.delivered), f0(x.drops), f0(x.lost), `${f0(x.cpuPercent)}% of a core`, `${x.peakRssMb} MB`,
      x.eventLatency && x.eventLatency.n ? `${x.eventLatency.p50Ms} / ${x.eventLatency.p99Ms} ms` : '–']));
}

function latencyTable(r, L, table) {
  const lt = r.latency;
  L.push(`**5. Detection latency** (kernel timestamp of the syscall to the JS callback, library \`monitor()\`; ` +
    `${lt.processes} processes started 10 ms apart, each mapping W+X 10 times 100 µs apart: one alert each)`, '');
  table(['callback', 'n', 'p50', 'p99', 'max'], [
    ['`alert` (first W+X mmap of a new process)', lt.alert.n, `${lt.alert.p50Ms} ms`, `${lt.alert.p99Ms} ms`, `${lt.alert.maxMs} ms`],
    ['`event` (every W+X mmap)', lt.event.n, `${lt.event.p50Ms} ms`, `${lt.event.p99Ms} ms`, `${lt.event.maxMs} ms`],
  ]);
}

function idleTable(r, L, table) {
  const id = r.idle;
  L.push(`**6. Idle CPU** (watching an idle process for ${id.seconds} s, all at once; CPU time / wall time)`, '');
  const idleRows = [
    ['`monitor(pid)`: lean hooks, syscalls sampled from /proc every 200 ms', `${id.leanCpuPercent.toFixed(2)}%`, `${id.leanRssMb} MB`],
    ['`monitor(pid, { syscalls: \'exact\' })`', `${id.exactCpuPercent.toFixed(2)}%`, `${id.exactRssMb} MB`],
    ['`monitor(pid, { bpf: false })`: /proc fallback, default intervals', `${id.procCpuPercent.toFixed(2)}%`, `${id.procRssMb} MB`],
  ];
  if (id.bpftraceCpuPercent !== null) idleRows.push(['bpftrace, the seed\'s four probes', `${id.bpftraceCpuPercent.toFixed(2)}%`, '']);
  table(['monitor', 'CPU', 'peak RSS'], idleRows);
}

function busyTables(r, L, table) {
  const b = r.busy;
  const ratio = (x) => `×${f3(x.ratio)} [${f3(x.ratioIqr[0])}–${f3(x.ratioIqr[1])}]`;
  const cpu = (x) => (x.monitorCpuPercent === null ? '–' : `${f1(x.monitorCpuPercent)}%`) + (x.monitorEvents === null ? '' : `, ${f0(x.monitorEvents)} events`);
  L.push(`**7. A busy runtime**, medians of ${b.roundsUsed} clean rounds of ${b.rounds}, monitors interleaved; ratios are medians of per-round ratios to unmonitored (IQR in brackets). ` +
    `The monitor follows the runtime's process, attached once it is warm.`, '');
  if (b.workerd) {
    const w = b.workerd;
    L.push(`workerd serving \`scripts/bench/workloads/worker.js\` (instantiates a WASM module and runs it, per request) on 127.0.0.1; ` +
      `\`httpload\`: ${w.connections} keep-alive connections at full speed, ${w.seconds} s or ${w.maxRequests.toLocaleString('en')} requests per run.`, '');
    table(['workerd under', 'requests/s', 'vs unmonitored', 'p50', 'p99', 'p99 vs unmonitored', 'workerd CPU/request', 'vs unmonitored', 'monitor CPU, events seen'],
      w.rows.map((x) => [x.label, f0(x.rps.median), ratio(x.rps), `${f1(x.p50Us.median / 1000)} ms`, `${f1(x.p99Us.median / 1000)} ms`, ratio(x.p99Us),
        `${f0(x.cpuUsPerRequest.median)} µs`, ratio(x.cpuUsPerRequest), cpu(x)]));
  }
  const n = b.wasm;
  L.push(`Node: \`bench/wasm-work.js\` instantiates a WASM module and runs it, over and over, for ${n.seconds} s.`, '');
  table(['Node WASM workload under', 'iterations/s', 'vs unmonitored', 'CPU/iteration', 'vs unmonitored', 'monitor CPU, events seen'],
    n.rows.map((x) => [x.label, f0(x.perSec.median), ratio(x.perSec), `${f1(x.cpuUsPerIteration.median)} µs`, ratio(x.cpuUsPerIteration), cpu(x)]));
  for (const note of b.notes) L.push(note, '');
}

function watchTables(r, L, table) {
  const w = r.watch;
  const id = w.idle;
  const mix = Object.entries(w.byRuntime).map(([k, v]) => `${v} ${k}`).join(', ');
  L.push(`**8. The watch.** ${w.runtimes} idle runtimes (${mix}; each ran a tiny WASM module and sleeps on a 1 s timer, \`scripts/bench/workloads/idle-runtime.js\`). ` +
    `Idle CPU: each monitor in its own process, ${id.seconds} s windows once ${id.settleMs / 1000} s past \`ready\`, median of ${id.rounds}; CPU time / wall time. ` +
    `The watch of every runtime has its window alone (it would follow the other monitors, Node processes themselves); the other two share theirs.`, '');
  table(['monitor', 'runtimes followed', 'CPU', 'peak RSS'], [
    ['`watch()` of every runtime on the host (`wasmshark watch --all-runtimes`)', `${id.followedAll.atStart} (at the end: ${id.followedAll.atEnd})`,
      `${id.allCpuPercent.toFixed(2)}% (max ${id.allCpuPercentMax.toFixed(2)}%)`, `${f0(id.allRssMb)} MB`],
    [`\`watch({ pids })\` of the ${w.runtimes} only`, f0(id.followedPids), `${id.onlyCpuPercent.toFixed(2)}%`, `${f0(id.onlyRssMb)} MB`],
    ['`monitor(pid)` of one of them (default, lean)', '1', `${id.singleCpuPercent.toFixed(2)}%`, `${f0(id.singleRssMb)} MB`],
  ]);
  const b = w.bystander;
  const x3 = (v) => (v ? `×${f3(v.median)} [${f3(v.iqr[0])}–${f3(v.iqr[1])}]` : '');
  L.push(`Bystander: \`${b.loop}\` not followed while each runs, medians of ${b.roundsUsed} rounds of ${b.rounds} (${b.cleanRounds} clean: no one else's syscall hooks attached), interleaved; ` +
    `ratios are medians of per-round ratios (IQR in brackets). monitor() follows an idle \`sleep\`; the watch follows the idle runtimes. ` +
    `Samples redone for someone else's syscall hooks: ${b.discardedForForeignHooks}.`, '');
  table(['configuration', 'wall ns/iter', 'vs unmonitored', 'CPU ns/iter', 'vs unmonitored', 'vs its floor', 'vs monitor()'],
    b.results.map((x) => [x.label, f0(x.nsPerIteration), x3(x.ratio), f0(x.cpuNsPerIteration), x3(x.cpuRatio), x3(x.cpuRatioToFloor), x3(x.cpuRatioToMonitor)]));
}

module.exports = { goals, markdown };
