#!/usr/bin/env node
/*
 * What naming the code behind alerts costs (issue 21), in two parts:
 *
 *  1. V8's JIT symbol map: the Node WASM workload (scripts/bench/workloads/wasm-work.js) with
 *     and without NODE_OPTIONS="--perf-basic-prof --interpreted-frames-native-stack",
 *     what launch mode adds: iterations/s, CPU per iteration, node's startup,
 *     and the map's size. Unmonitored, interleaved rounds.
 *  2. The monitor's own cost of the kernel's stack walk in a W+X burst:
 *     `trigger wx N` under startProbes() with stacks on and off, the trigger
 *     built with frame pointers (the walk succeeds: a 320-byte record) and
 *     without (the walk stops at once: the record carries 8 KiB of stack).
 *
 *   sudo node scripts/bench/symbols.js [--rounds N] [--secs S] [--burst N] [--json]
 * bench.js runs it as its `symbols` section (module.exports.run; `npm run bench -- --only symbols`).
 */
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

function run(cmd, args, env, input, cwd) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      if (input && out.includes('ready\n') && !p.sent) {
        p.sent = true;
        p.stdin.write(input);
      }
      if (/iterations \d+/.test(out)) p.stdin.end();
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, ms: Number(process.hrtime.bigint() - t0) / 1e6, pid: p.pid }));
  });
}

/** Part 1: the Node WASM workload, maps off and on. */
async function perfMapCost({ rounds, secs }) {
  const work = path.join(__dirname, 'workloads', 'wasm-work.js');
  const off = { ...process.env, NODE_OPTIONS: '' };
  const on = { ...process.env, NODE_OPTIONS: '--perf-basic-prof --interpreted-frames-native-stack' };
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-bench-sym-')); // V8 writes isolate-*.log here
  const res = { off: [], on: [], startOff: [], startOn: [], mapBytes: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [name, env] of [['off', off], ['on', on]]) {
        const x = await run(process.execPath, [work, String(secs * 1000)], env, 'go\n', cwd);
        const m = /iterations (\d+) ms ([\d.]+) cpu_ms ([\d.]+)/.exec(x.out);
        if (!m) throw new Error(`wasm-work.js said: ${x.out}`);
        res[name].push({ perSec: (Number(m[1]) / Number(m[2])) * 1000, cpuUsPerIter: (Number(m[3]) * 1000) / Number(m[1]) });
        const map = `/tmp/perf-${x.pid}.map`;
        if (name === 'on' && fs.existsSync(map)) {
          res.mapBytes.push(fs.statSync(map).size);
          fs.rmSync(map);
        }
        const s = await run(process.execPath, ['-e', '0'], env, undefined, cwd);
        res[name === 'off' ? 'startOff' : 'startOn'].push(s.ms);
        fs.rmSync(`/tmp/perf-${s.pid}.map`, { force: true });
      }
    }
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
  const perSecOff = median(res.off.map((x) => x.perSec));
  const perSecOn = median(res.on.map((x) => x.perSec));
  return {
    rounds,
    secs,
    iterationsPerSec: { off: Math.round(perSecOff), on: Math.round(perSecOn), ratio: +(perSecOn / perSecOff).toFixed(3) },
    cpuUsPerIteration: { off: +median(res.off.map((x) => x.cpuUsPerIter)).toFixed(3), on: +median(res.on.map((x) => x.cpuUsPerIter)).toFixed(3) },
    startupMs: { off: Math.round(median(res.startOff)), on: Math.round(median(res.startOn)) },
    mapBytes: Math.round(median(res.mapBytes)),
  };
}

/** Part 2: the W+X burst under the probes, stacks on and off. */
async function stackCost({ rounds, burst }) {
  const { startProbes } = require(path.join(ROOT, 'dist', 'probes.js'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-bench-trig-'));
  const src = path.join(ROOT, 'test', 'fixtures', 'trigger.c');
  const builds = {
    'frame pointers': path.join(dir, 'trigger-fp'),
    'no frame pointers': path.join(dir, 'trigger-nofp'),
  };
  execFileSync('cc', ['-O2', '-pthread', '-fno-omit-frame-pointer', src, '-o', builds['frame pointers']]);
  execFileSync('cc', ['-O2', '-pthread', '-fomit-frame-pointer', src, '-o', builds['no frame pointers']]);
  const rows = [];
  try {
    for (const [build, bin] of Object.entries(builds)) {
      for (const stacks of [false, true]) {
        const runs = [];
        for (let r = 0; r < rounds; r++) {
          const probes = startProbes({ stacks });
          let events = 0;
          let stackRecords = 0;
          probes.on('batch', (evs) => {
            for (const e of evs) {
              if (e.kind === 'mmap') events++;
              else if (e.kind === 'stack') stackRecords++;
            }
          });
          const gen = spawn(bin, ['--wait', 'wx', String(burst)], { stdio: ['pipe', 'ignore', 'inherit'] });
          await new Promise((resolve) => setTimeout(resolve, 100));
          probes.addTarget(gen.pid);
          const cpu0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          gen.stdin.end('go\n');
          await new Promise((resolve) => gen.on('exit', resolve));
          const targetMs = Number(process.hrtime.bigint() - t0) / 1e6;
          await probes.stop();
          const cpu = process.cpuUsage(cpu0);
          const drops = probes.drops();
          runs.push({ targetMs, monitorCpuMs: (cpu.user + cpu.system) / 1000, events, stackRecords, dropped: drops.total, stacksDropped: drops.stacks ?? 0 });
        }
        rows.push({
          build,
          stacks,
          targetMs: Math.round(median(runs.map((x) => x.targetMs))),
          monitorCpuMs: Math.round(median(runs.map((x) => x.monitorCpuMs))),
          delivered: median(runs.map((x) => x.events)),
          stackRecords: median(runs.map((x) => x.stackRecords)),
          dropped: median(runs.map((x) => x.dropped)),
          stacksDropped: median(runs.map((x) => x.stacksDropped)),
        });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { rounds, burst, rows };
}

async function main(opts) {
  return { perfMap: await perfMapCost(opts), stacks: await stackCost(opts) };
}

function parse(argv) {
  const opts = { rounds: 5, secs: 2, burst: 50000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') opts.json = true;
    else if (a === '--rounds' || a === '--secs' || a === '--burst') opts[a.slice(2)] = Number(argv[++i]);
    else throw new Error(`bench-symbols: unknown option ${a}`);
  }
  return opts;
}

function render(r) {
  const p = r.perfMap;
  const L = [];
  L.push(`Node WASM workload (scripts/bench/workloads/wasm-work.js, ${p.secs} s, median of ${p.rounds} interleaved rounds), unmonitored:`);
  L.push('| | maps off | NODE_OPTIONS="--perf-basic-prof --interpreted-frames-native-stack" |');
  L.push('|---|---|---|');
  L.push(`| iterations/s | ${p.iterationsPerSec.off} | ${p.iterationsPerSec.on} (×${p.iterationsPerSec.ratio}) |`);
  L.push(`| CPU µs per iteration | ${p.cpuUsPerIteration.off} | ${p.cpuUsPerIteration.on} |`);
  L.push(`| \`node -e 0\` wall time | ${p.startupMs.off} ms | ${p.startupMs.on} ms |`);
  L.push(`| /tmp/perf-PID.map written | | ${p.mapBytes} bytes |`);
  L.push('');
  L.push(`W+X burst (\`trigger wx ${r.stacks.burst}\`) under startProbes(), median of ${r.stacks.rounds}:`);
  L.push('| trigger built with | stacks | target run | monitor CPU | mmap events delivered | stack records | dropped (events) | stacks dropped |');
  L.push('|---|---|---|---|---|---|---|---|');
  for (const x of r.stacks.rows) L.push(`| ${x.build} | ${x.stacks ? 'on' : 'off'} | ${x.targetMs} ms | ${x.monitorCpuMs} ms | ${x.delivered} | ${x.stackRecords} | ${x.dropped} | ${x.stacksDropped} |`);
  return L.join('\n');
}

module.exports = { run: main, render };

if (require.main === module) {
  const opts = parse(process.argv.slice(2));
  main(opts).then(
    (r) => process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : `${render(r)}\n`),
    (err) => {
      process.stderr.write(`bench-symbols: ${err.stack || err}\n`);
      process.exit(1);
    },
  );
}
