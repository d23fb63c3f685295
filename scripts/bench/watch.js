/*
 * 8: the watch, measured. `wasmshark watch` follows every runtime on the
 * host; here it follows --watch-runtimes idle ones (node, bun and deno in
 * turn, each having run a tiny WASM module and now sleeping on a timer).
 *
 *   (a) idle CPU: a watch of every runtime on the host (as `wasmshark watch
 *       --all-runtimes` runs) in a window of its own, then a watch of only
 *       the idle runtimes' pids and the single-target default monitor(pid)
 *       of one of them together (the order alternating from round to
 *       round): each process's CPU time over wall time.
 *   (b) bystander cost: the cost section's churn loop, not followed, while
 *       nothing, the lean floor, monitor(pid) of an idle process, or the
 *       watch runs; interleaved rounds, ratios to unmonitored in the same round.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { OPT } = require('./options');
const { ROOT, WORKLOADS, Proc, idleProcess, median, msSince, now, procUsage, quantile, sleep } = require('./util');
const { startAgent, waitQuiet, quietBudgetLeft, quietWaited } = require('./monitors');
const { churnOnce } = require('./cost');

const IDLE_RUNTIME = path.join(WORKLOADS, 'idle-runtime.js');
/** After ready: the watch's first pass over the runtimes it found is not what it lives with (its /proc polls come every 2 s). */
const WATCH_SETTLE_MS = 2500;

/** The runtimes to start, in turn: node always, bun and deno where npm installed them. */
function runtimeCommands() {
  const out = [['node', process.execPath, [IDLE_RUNTIME]]];
  const bun = path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
  const deno = path.join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc', 'deno');
  if (fs.existsSync(bun)) out.push(['bun', bun, [IDLE_RUNTIME]]);
  if (fs.existsSync(deno)) out.push(['deno', deno, ['run', '--quiet', IDLE_RUNTIME]]);
  return out;
}

async function startIdleRuntimes(n) {
  const kinds = runtimeCommands();
  const procs = [];
  const byName = {};
  for (let i = 0; i < n; i++) {
    const [name, cmd, args] = kinds[i % kinds.length];
    const p = new Proc(cmd, args);
    p.runtime = name;
    procs.push(p);
    byName[name] = (byName[name] ?? 0) + 1;
  }
  try {
    await Promise.all(procs.map((p) => p.waitLine(/^ready$/, 60000)));
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    throw err;
  }
  return { procs, byName };
}

/** Windows of CPU over wall time for a few processes at once, as % of one CPU. */
async function cpuWindow(pids, ms) {
  const before = pids.map((p) => procUsage(p).cpuMs);
  const t0 = now();
  await sleep(ms);
  const wall = msSince(t0);
  return pids.map((p, i) => ((procUsage(p).cpuMs - before[i]) / wall) * 100);
}

/**
 * Agents started together, checked to have eBPF, measured over one window
 * once settled, then stopped: their CPU (% of one CPU), ready and result lines.
 */
async function measureTogether(argsList) {
  const agents = await Promise.all(argsList.map(([args, syscalls]) => startAgent(args, syscalls)));
  let cpu;
  try {
    for (const a of agents) {
      const info = a.json('ready');
      // (a profiler's SIGPROF during the load makes the verifier give up: that is one way to get here)
      if (info.bpf === false) throw new Error(`an agent ran without eBPF: ${info.bpfError}`);
    }
    await sleep(WATCH_SETTLE_MS);
    cpu = await cpuWindow(agents.map((a) => a.pid), OPT['watch-secs'] * 1000);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
  return agents.map((a, i) => ({ cpu: cpu[i], ready: a.json('ready'), result: a.json('result') }));
}

async function idleWindow(runtimes) {
  const rounds = [];
  const pids = runtimes.procs.map((p) => String(p.pid));
  for (let r = 0; r < OPT['watch-rounds']; r++) {
    await waitQuiet();
    // The watch of every runtime has a window of its own: the other agents are Node processes, which it would follow.
    const parts = [
      async () => {
        const [all] = await measureTogether([[['watch'], null]]);
        return { all: all.cpu, followedAtStart: all.ready.followed, readyMs: all.ready.readyMs, followedAtEnd: all.result.followed,
          byRuntimeAtEnd: all.result.byRuntime, allRssMb: all.result.maxRssMb, allEvents: all.result.eventsTotal, allDrops: all.result.drops.total };
      },
      async () => {
        const [only, single] = await measureTogether([[['watch', ...pids], null], [['monitor', pids[0]], 'lean']]);
        return { only: only.cpu, single: single.cpu, pidsFollowedAtStart: only.ready.followed, pidsFollowedAtEnd: only.result.followed,
          onlyRssMb: only.result.maxRssMb, singleRssMb: single.result.maxRssMb };
      },
    ];
    const round = {};
    for (let i = 0; i < parts.length; i++) Object.assign(round, await parts[(i + r) % parts.length]());
    rounds.push(round);
    process.stderr.write(`  watch idle round ${r + 1}/${OPT['watch-rounds']}\n`);
  }
  const m = (k) => median(rounds.map((x) => x[k]));
  return {
    seconds: OPT['watch-secs'],
    settleMs: WATCH_SETTLE_MS,
    rounds: rounds.length,
    allCpuPercent: m('all'),
    allCpuPercentMax: Math.max(...rounds.map((x) => x.all)),
    onlyCpuPercent: m('only'),
    singleCpuPercent: m('single'),
    allRssMb: m('allRssMb'),
    onlyRssMb: m('onlyRssMb'),
    singleRssMb: m('singleRssMb'),
    followedAll: { atStart: m('followedAtStart'), atEnd: m('followedAtEnd') },
    followedPids: m('pidsFollowedAtStart'),
    watchReadyMs: m('readyMs'),
    samples: rounds,
  };
}

/** The configurations of (b): each start(target, idle) resolves once live, then the settle. */
function bystanderConfigs(configs, runtimes) {
  const settled = (start) => async (target, idle) => {
    const s = await start(target, idle);
    await sleep(WATCH_SETTLE_MS);
    return s;
  };
  const pick = (name) => configs.find((c) => c.name === name);
  const out = [pick('unmonitored'), pick('floor-lean'), pick('wasmshark')].filter(Boolean).map((c) => ({ ...c, start: settled(c.start) }));
  const watchConfig = (name, label, args) => ({
    name,
    label,
    floor: 'floor-lean',
    start: settled(async () => {
      const p = await startAgent(args, null);
      return { pids: [p.pid], stop: () => p.stop(), events: () => p.json('result').eventsTotal };
    }),
  });
  out.push(watchConfig('watch', `wasmshark watch, every runtime on the host (${runtimes.procs.length} idle ones started)`, ['watch']));
  return out;
}

async function bystander(configs, runtimes, tools) {
  const cfgs = bystanderConfigs(configs, runtimes);
  const idle = idleProcess();
  const rounds = [];
  let discarded = 0;
  try {
    for (let r = 0; r < OPT.rounds; r++) {
      const order = cfgs.map((_, i) => cfgs[(i + r) % cfgs.length]);
      const round = {};
      for (const cfg of order) {
        let s;
        for (let attempt = 0; attempt < (quietBudgetLeft() > 0 ? 4 : 1); attempt++) {
          await waitQuiet();
          s = await churnOnce(tools, cfg, 'bystander', idle.pid);
          if (s.foreign.length === 0) break;
          discarded++;
        }
        round[cfg.name] = s;
        if (s.foreign.length) round.contaminated = true;
      }
      rounds.push(round);
      process.stderr.write(`  watch bystander round ${r + 1}/${OPT.rounds}\n`);
    }
  } finally {
    idle.kill();
  }
  const clean = rounds.filter((rd) => !rd.contaminated);
  const used = clean.length >= Math.min(3, rounds.length) ? clean : rounds;
  const paired = (a, b, field) => {
    const xs = used.filter((rd) => rd[a] && rd[b]).map((rd) => rd[a][field] / rd[b][field]);
    return xs.length ? { median: median(xs), iqr: [quantile(xs, 0.25), quantile(xs, 0.75)] } : null;
  };
  const results = cfgs.map((cfg) => ({
    config: cfg.name,
    label: cfg.label,
    nsPerIteration: median(used.map((rd) => rd[cfg.name].ns)),
    cpuNsPerIteration: median(used.map((rd) => rd[cfg.name].cpuNs)),
    ratio: paired(cfg.name, 'unmonitored', 'ns'),
    cpuRatio: paired(cfg.name, 'unmonitored', 'cpuNs'),
    cpuRatioToMonitor: cfg.name === 'watch' ? paired('watch', 'wasmshark', 'cpuNs') : null,
    cpuRatioToFloor: cfg.floor && cfgs.some((c) => c.name === cfg.floor) ? paired(cfg.name, cfg.floor, 'cpuNs') : null,
  }));
  return {
    loop: OPT['loop-getppid'] ? `paced getppid ${OPT.getppid}` : `trigger churn ${OPT.churn}`,
    rounds: rounds.length,
    roundsUsed: used.length,
    cleanRounds: clean.length,
    discardedForForeignHooks: discarded,
    waitedForQuietMs: quietWaited(),
    results,
    samples: rounds,
  };
}

async function watchSection(tools, configs) {
  const runtimes = await startIdleRuntimes(OPT['watch-runtimes']);
  try {
    const idle = await idleWindow(runtimes);
    const cost = await bystander(configs, runtimes, tools);
    return { runtimes: runtimes.procs.length, byRuntime: runtimes.byName, idle, bystander: cost };
  } finally {
    await Promise.all(runtimes.procs.map((p) => p.stop('SIGKILL')));
  }
}

module.exports = { watchSection };
