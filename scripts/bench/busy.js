/*
 * 7: a busy runtime under each monitor: workerd serving a WASM worker over
 * HTTP, and a Node WASM workload, ratios to unmonitored in the same round.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { OPT } = require('./options');
const { ROOT, WORKLOADS, WORKERD, Proc, median, procUsage, quantile, sleep } = require('./util');
const { monitoredSample } = require('./monitors');
const { freePort } = require(path.join(ROOT, 'dist', 'net', 'port.js'));

/** One bounded run of the HTTP load loop against 127.0.0.1:port; null if it could not get through. */
async function httpLoad(tools, port, conns, requests, secs) {
  const p = new Proc(tools.httpload, [String(port), String(conns), String(requests), String(secs)]);
  const exit = await p.exited;
  const line = p.lines.find((l) => l.startsWith('requests '));
  if (exit.code !== 0 || !line) return null;
  const f = line.split(' ');
  const v = (k) => Number(f[f.indexOf(k) + 1]);
  return { requests: v('requests'), seconds: v('seconds'), p50Us: v('p50_us'), p99Us: v('p99_us'), maxUs: v('max_us'), clientCpuNs: v('cpu_ns') };
}

/** workerd serving scripts/bench/workloads/worker.js (a WASM module run per request) on 127.0.0.1; resolves once it answers. */
async function startWorkerd(tools, dir) {
  const port = await freePort();
  const wd = fs.mkdtempSync(path.join(dir, 'workerd-'));
  fs.copyFileSync(path.join(WORKLOADS, 'worker.js'), path.join(wd, 'worker.js'));
  fs.copyFileSync(path.join(ROOT, 'test', 'scenarios', 'workloads', 'sum.wasm'), path.join(wd, 'sum.wasm'));
  const config = fs.readFileSync(path.join(WORKLOADS, 'workerd.capnp'), 'utf8').replace(/WORKERD_PORT/g, String(port));
  fs.writeFileSync(path.join(wd, 'workerd.capnp'), config);
  const proc = new Proc(WORKERD, ['serve', path.join(wd, 'workerd.capnp')]);
  const deadline = Date.now() + 20000;
  while (!(await httpLoad(tools, port, 1, 1, 1))) {
    if (proc.exitInfo || Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`workerd did not serve on 127.0.0.1:${port}: ${proc.stderr.trim().slice(-500)}`);
    }
    await sleep(100);
  }
  return { proc, port, dir: wd };
}

async function busyRuntime(tools, configs, dir) {
  const wanted = ['unmonitored', 'wasmshark', 'wasmshark-exact', 'bpftrace'];
  const cfgs = configs.filter((c) => wanted.includes(c.name));
  const rounds = [];
  const conns = OPT['busy-conns'];
  const haveWorkerd = fs.existsSync(WORKERD);
  for (let r = 0; r < OPT['busy-rounds']; r++) {
    const round = { workerd: {}, wasm: {} };
    const order = cfgs.map((_, i) => cfgs[(i + r) % cfgs.length]);
    if (haveWorkerd) {
      const wd = await startWorkerd(tools, dir);
      try {
        // warm-up, unmonitored: the worker compiled and its code hot before the first sample
        if (!(await httpLoad(tools, wd.port, conns, 5000, 1))) throw new Error(`workerd warm-up failed: ${wd.proc.stderr.trim().slice(-500)}`);
        for (const cfg of order) {
          round.workerd[cfg.name] = await monitoredSample(cfg, async () => ({
            pid: wd.proc.pid,
            run: async () => {
              const cpu0 = procUsage(wd.proc.pid).cpuMs;
              const x = await httpLoad(tools, wd.port, conns, OPT['busy-requests'], OPT['busy-secs']);
              if (!x) throw new Error(`the HTTP load on workerd failed (${cfg.name}): ${wd.proc.stderr.trim().slice(-500)}`);
              return { ...x, rps: x.requests / x.seconds, cpuUsPerRequest: ((procUsage(wd.proc.pid).cpuMs - cpu0) * 1000) / x.requests };
            },
          }));
        }
      } finally {
        await wd.proc.stop('SIGKILL');
        fs.rmSync(wd.dir, { recursive: true, force: true });
      }
    }
    for (const cfg of order) {
      round.wasm[cfg.name] = await monitoredSample(cfg, async () => {
        const w = new Proc(process.execPath, [path.join(WORKLOADS, 'wasm-work.js'), String(OPT['wasm-secs'] * 1000)]);
        await w.waitLine(/^ready$/);
        return {
          pid: w.pid,
          run: async () => {
            w.send('go\n');
            const { line } = await w.waitLine(/^iterations /, 60000);
            const [, n, , ms, , cpuMs] = line.split(' ').map(Number);
            return { iterations: n, ms, perSec: n / (ms / 1000), cpuUsPerIteration: (cpuMs * 1000) / n };
          },
          cleanup: () => w.stop(),
        };
      });
    }
    round.contaminated = [...Object.values(round.workerd), ...Object.values(round.wasm)].some((s) => s.foreign.length > 0);
    rounds.push(round);
    process.stderr.write(`  busy round ${r + 1}/${OPT['busy-rounds']}\n`);
  }
  const clean = rounds.filter((rd) => !rd.contaminated);
  const used = clean.length >= Math.min(3, rounds.length) ? clean : rounds;
  /** Median over rounds, and the median and IQR of the per-round ratio to unmonitored. */
  const summarize = (workload, field) => (cfg) => {
    const xs = used.map((rd) => rd[workload][cfg.name][field]);
    const ratios = used.map((rd) => rd[workload][cfg.name][field] / rd[workload].unmonitored[field]);
    return { median: median(xs), ratio: median(ratios), ratioIqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)] };
  };
  const rows = (workload, fields) =>
    cfgs.map((cfg) => ({
      config: cfg.name,
      label: cfg.label,
      ...Object.fromEntries(fields.map((f) => [f, summarize(workload, f)(cfg)])),
      monitorCpuPercent: median(used.map((rd) => rd[workload][cfg.name].monitorCpuPercent)),
      monitorEvents: median(used.map((rd) => rd[workload][cfg.name].monitorEvents).filter(Number.isFinite)),
    }));
  return {
    rounds: OPT['busy-rounds'],
    roundsUsed: used.length,
    workerd: haveWorkerd
      ? { seconds: OPT['busy-secs'], maxRequests: OPT['busy-requests'], connections: conns, rows: rows('workerd', ['rps', 'p50Us', 'p99Us', 'cpuUsPerRequest']) }
      : null,
    wasm: { seconds: OPT['wasm-secs'], rows: rows('wasm', ['perSec', 'cpuUsPerIteration']) },
    notes: haveWorkerd ? [] : [`no workerd at ${path.relative(ROOT, WORKERD)} (npm ci): its part is not measured`],
    samples: rounds,
  };
}

module.exports = { busyRuntime, httpLoad };
