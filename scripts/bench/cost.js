/*
 * 1 + 2: the cost of each configuration on a syscall-heavy loop, the loop
 * being the monitored process (target) or not (bystander), in interleaved rounds.
 */
'use strict';
const { OPT } = require('./options');
const { Proc, cpuJiffies, idleProcess, median, parkedInRead, quantile } = require('./util');
const { foreignSyscallHooks, quietBudgetLeft, quietWaited, waitQuiet } = require('./monitors');

async function churnOnce(tools, cfg, role, idle) {
  // under `paced run`, which reports the loop's CPU time besides the wall time trigger prints
  const wait = role === 'target' ? ['--wait'] : [];
  const iterations = OPT['loop-getppid'] ? OPT.getppid : OPT.churn;
  const args = OPT['loop-getppid']
    ? ['run', tools.paced, ...wait, 'getppid', String(iterations)]
    : ['run', tools.trigger, ...wait, 'churn', String(iterations)];
  let gen = null;
  let target = idle;
  if (role === 'target') {
    gen = new Proc(tools.paced, args);
    target = Number((await gen.waitLine(/^child /)).line.split(' ')[1]);
    await parkedInRead(target);
  }
  const session = await cfg.start(target, idle);
  const ours = session?.pids ?? [];
  const foreign0 = foreignSyscallHooks(ours);
  const j0 = cpuJiffies();
  if (gen) gen.send('go\n');
  else gen = new Proc(tools.paced, args);
  const exit = await gen.exited;
  const j1 = cpuJiffies();
  const foreign = [...new Set([...foreign0, ...foreignSyscallHooks(ours)])];
  if (session) await session.stop();
  const ns = Number(gen.lines.find((l) => /^[\d.]+$/.test(l)));
  const ru = gen.lines.find((l) => l.startsWith('rusage '));
  if (exit.code !== 0 || !Number.isFinite(ns) || !ru) throw new Error(`churn exited ${exit.code}: ${gen.stderr}`);
  const [user, sys] = ru.split(' ').slice(1).map(Number);
  return { ns, cpuNs: (user + sys) / iterations, busy: (j1.busy - j0.busy) / Math.max(1, j1.total - j0.total), foreign };
}

async function hookCost(tools, configs) {
  const idle = idleProcess();
  const samples = Object.fromEntries(configs.map((c) => [c.name, { target: [], bystander: [] }]));
  const rounds = [];
  const foreignSeen = new Set();
  let discarded = 0;
  try {
    for (let r = 0; r < OPT.rounds; r++) {
      // rotate the order so no configuration always runs right after another's teardown
      const order = configs.map((_, i) => configs[(i + r) % configs.length]);
      const round = {};
      for (const cfg of order) {
        for (const role of r % 2 ? ['bystander', 'target'] : ['target', 'bystander']) {
          let s;
          // once the budget for waiting is spent, retrying would only repeat the same contamination
          for (let attempt = 0; attempt < (quietBudgetLeft() > 0 ? 4 : 1); attempt++) {
            await waitQuiet();
            s = await churnOnce(tools, cfg, role, idle.pid);
            if (s.foreign.length === 0) break;
            // another process had syscall hooks attached: that is not this configuration's cost
            discarded++;
            for (const f of s.foreign) foreignSeen.add(f.replace(/\(\d+\)$/, ''));
          }
          if (s.foreign.length) round.contaminated = true;
          samples[cfg.name][role].push(s);
          round[`${cfg.name}/${role}`] = s;
        }
      }
      rounds.push(round);
      process.stderr.write(`  churn round ${r + 1}/${OPT.rounds}\n`);
    }
  } finally {
    idle.kill();
  }
  // rounds where some sample still had someone else's hooks attached count only if too few are clean
  const clean = rounds.filter((rd) => !rd.contaminated);
  const used = clean.length >= Math.min(3, rounds.length) ? clean : rounds;
  /** Median over rounds of a/b within the same round (drift cancels out), and the interquartile range. */
  const paired = (a, b, field) => {
    const xs = used.map((rd) => rd[a][field] / rd[b][field]);
    return { median: median(xs), iqr: [quantile(xs, 0.25), quantile(xs, 0.75)] };
  };
  const results = [];
  for (const cfg of configs) {
    for (const role of ['target', 'bystander']) {
      const xs = samples[cfg.name][role];
      const key = `${cfg.name}/${role}`;
      const floorName = cfg.floor ?? null;
      const floorKey = floorName && samples[floorName] ? `${floorName}/${role}` : null;
      const wall = paired(key, `unmonitored/${role}`, 'ns');
      const cpu = paired(key, `unmonitored/${role}`, 'cpuNs');
      results.push({
        config: cfg.name,
        label: cfg.label,
        role,
        nsPerIteration: median(used.map((rd) => rd[key].ns)),
        cpuNsPerIteration: median(used.map((rd) => rd[key].cpuNs)),
        ratio: wall.median,
        ratioIqr: wall.iqr,
        cpuRatio: cpu.median,
        cpuRatioIqr: cpu.iqr,
        floor: floorKey ? floorName : null,
        ratioToFloor: floorKey ? paired(key, floorKey, 'ns').median : null,
        cpuRatioToFloor: floorKey ? paired(key, floorKey, 'cpuNs').median : null,
        samples: xs,
        machineBusy: median(xs.map((x) => x.busy)),
        foreignHookSamples: xs.filter((x) => x.foreign.length > 0).length,
      });
    }
  }
  return {
    loop: OPT['loop-getppid'] ? `paced getppid ${OPT.getppid}` : `trigger churn ${OPT.churn}`,
    rounds: OPT.rounds,
    roundsUsed: used.length,
    discardedForForeignHooks: discarded,
    foreignHookOwners: [...foreignSeen],
    waitedForQuietMs: quietWaited(),
    results,
  };
}

module.exports = { churnOnce, hookCost };
