#!/usr/bin/env node
/*
 * wasmshark benchmarks, measured side by side in one run (the machines this
 * runs on are shared and noisy: compare figures within a run, not across).
 *
 *   sudo npm run bench [-- --burst N] [-- --rounds N]
 *
 * Prints a markdown table and writes bench-results/bench.json and .md.
 * Needs root (BPF), cc (it compiles its load generator), and `npm run build`.
 */
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const { startProbes } = require(path.join(ROOT, 'dist', 'probes.js'));
const { parkedInRead } = require(path.join(ROOT, 'dist', 'launch.js'));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const BURST = arg('burst', 200000);
const ROUNDS = arg('rounds', 20);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const ms = (ns) => Number(ns) / 1e6;

function buildTrigger() {
  const out = path.join(os.tmpdir(), `wasmshark-bench-trigger-${process.pid}`);
  execFileSync('cc', ['-O2', '-pthread', path.join(ROOT, 'test', 'fixtures', 'trigger.c'), '-o', out]);
  return out;
}

/** Load+attach and stop, ROUNDS times each. */
async function attachTimes() {
  const attach = [];
  const stop = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    const probes = startProbes();
    const t1 = process.hrtime.bigint();
    await probes.stop();
    const t2 = process.hrtime.bigint();
    attach.push(ms(t1 - t0));
    stop.push(ms(t2 - t1));
  }
  return { attachMs: median(attach), stopMs: median(stop) };
}

/** A followed process maps W+X memory BURST times as fast as it can. */
async function burst(trigger) {
  const probes = startProbes();
  const child = spawn(trigger, ['--wait', 'wx', String(BURST)], { stdio: ['pipe', 'ignore', 'inherit'] });
  let delivered = 0;
  let first = 0n;
  let last = 0n;
  probes.on('batch', (events) => {
    const now = process.hrtime.bigint();
    if (first === 0n) first = now;
    last = now;
    for (const e of events) if (e.kind === 'mmap' && e.pid === child.pid && e.prot === 7) delivered++;
  });
  await parkedInRead(child.pid, 5000);
  probes.addTarget(child.pid);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end('go\n');
  await exited;
  const targetMs = ms(process.hrtime.bigint() - t0);
  await probes.stop();
  const cpu = process.cpuUsage(cpu0);
  const drops = probes.drops();
  const drainMs = ms(last - first) || 1;
  return {
    events: BURST,
    delivered,
    dropped: drops.byKind.mmap,
    lost: BURST - delivered - drops.byKind.mmap,
    targetMs,
    eventsPerSec: Math.round((delivered / drainMs) * 1000),
    monitorCpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function runChurn(trigger, iterations) {
  return new Promise((resolve, reject) => {
    const child = spawn(trigger, ['churn', String(iterations)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`churn exited ${code}`))));
  });
}

/**
 * Cost of the syscall hooks on a syscall-heavy loop (RW mmap + munmap), with
 * the loop as a bystander (another process is followed) and as the target,
 * syscall counting off and on. Configurations interleave round by round so
 * drift on a shared machine hits them all alike.
 */
async function hookCost(trigger) {
  const ITER = arg('churn', 300000);
  const configs = [
    { name: 'unmonitored', probes: null },
    { name: 'bystander, counting off', probes: { countSyscalls: false }, target: false },
    { name: 'bystander, counting on', probes: { countSyscalls: true }, target: false },
    { name: 'target, counting off', probes: { countSyscalls: false }, target: true },
    { name: 'target, counting on', probes: { countSyscalls: true }, target: true },
  ];
  const samples = configs.map(() => []);
  const idle = spawn('sleep', ['3600'], { stdio: 'ignore' });
  try {
    for (let round = 0; round < arg('hook-rounds', 5); round++) {
      for (let c = 0; c < configs.length; c++) {
        const cfg = configs[c];
        if (!cfg.probes) {
          samples[c].push(await runChurn(trigger, ITER));
          continue;
        }
        const probes = startProbes(cfg.probes);
        probes.addTarget(idle.pid); // something is always followed, as in real use
        let ns;
        if (cfg.target) {
          const child = spawn(trigger, ['--wait', 'churn', String(ITER)], { stdio: ['pipe', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          await parkedInRead(child.pid, 5000);
          probes.addTarget(child.pid);
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.stdin.end('go\n');
          await exited;
          ns = Number(out.trim());
        } else {
          ns = await runChurn(trigger, ITER);
        }
        await probes.stop();
        samples[c].push(ns);
      }
    }
  } finally {
    idle.kill();
  }
  const base = median(samples[0]);
  return configs.map((cfg, c) => ({ name: cfg.name, nsPerIteration: median(samples[c]), ratio: median(samples[c]) / base }));
}

async function main() {
  if (process.getuid() !== 0) {
    console.error('bench: needs root to load BPF programs (sudo npm run bench)');
    process.exit(1);
  }
  const trigger = buildTrigger();
  try {
    const attach = await attachTimes();
    const b = await burst(trigger);
    const hooks = await hookCost(trigger);
    const result = {
      when: new Date().toISOString(),
      machine: { kernel: os.release(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      attach,
      burst: b,
      hookCost: hooks,
    };
    const rows = [
      ['probes load + attach (median of ' + ROUNDS + ')', `${attach.attachMs.toFixed(1)} ms`],
      ['probes stop: detach + drain + unload (median)', `${attach.stopMs.toFixed(1)} ms`],
      [`burst: ${BURST} W+X mmaps, target run time`, `${b.targetMs.toFixed(0)} ms`],
      ['burst: events/s drained into JS', b.eventsPerSec.toLocaleString('en')],
      ['burst: delivered / dropped (counted) / lost', `${b.delivered} / ${b.dropped} / ${b.lost}`],
      ['burst: monitor CPU time', `${b.monitorCpuMs.toFixed(0)} ms`],
      ['burst: monitor peak RSS', `${b.peakRssMb} MB`],
      ...hooks.map((h) => [
        `mmap+munmap loop, ${h.name} (ns/iteration, ratio)`,
        `${h.nsPerIteration.toFixed(0)} (${h.ratio.toFixed(3)})`,
      ]),
    ];
    const md = ['| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
    const dir = path.join(ROOT, 'bench-results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'bench.json'), JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'bench.md'), md + '\n');
    console.log(md);
    console.log(`\nwritten: bench-results/bench.json, bench-results/bench.md`);
  } finally {
    fs.rmSync(trigger, { force: true });
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
