#!/usr/bin/env node
/*
 * wasmshark benchmarks, side by side in one run: unmonitored, wasmshark (the
 * library: monitor() and bare startProbes(), with its default lean syscall
 * hooks and with `syscalls: 'exact'`), bpftrace running the seed's four
 * probes, and the floor of each, i.e. empty BPF programs on the same hooks;
 * and a busy runtime (workerd serving a WASM worker, a Node WASM workload)
 * under each monitor. The machines this runs on are shared and noisy, so
 * configurations interleave round by round (drift hits them all alike) and
 * the figures are medians and ratios within the run, never wall-clock bounds.
 *
 *   sudo npm run bench [-- --rounds 7 --churn 200000 --quick ...]   (--help lists the flags)
 *
 * Writes bench-results/bench.json and bench-results/bench.md and prints the
 * tables (a run of some sections, --only, writes bench-partial.* instead).
 * Needs root (BPF), cc, clang (the floor programs) and `npm run build`;
 * mounts tracefs when it is missing (per-syscall tracepoints need it);
 * bpftrace is optional. See docs/benchmarks.md for what each figure means.
 *
 * This file is the runner: flags, setup, the sections in order, the results
 * written. Each section lives in scripts/bench/ (cost, startup, burst,
 * sustained, latency, idle, busy, watch), the report writer in
 * scripts/bench/report.js, the workloads the sections start in
 * scripts/bench/workloads/.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const { OPT, SECTIONS, configure } = require('./bench/options');
configure(process.argv.slice(2));
const { ROOT, SetupError, firstLine, killAll, which } = require('./bench/util');
const { tracing, wasmsharkHooks, build } = require('./bench/hooks');
const { monitorConfigs, quietWaited } = require('./bench/monitors');
const { hookCost } = require('./bench/cost');
const { attachTimes, startup } = require('./bench/startup');
const { burst } = require('./bench/burst');
const { sustained } = require('./bench/sustained');
const { latency } = require('./bench/latency');
const { idleCpu } = require('./bench/idle');
const { busyRuntime } = require('./bench/busy');
const { watchSection } = require('./bench/watch');
const symbolsBench = require('./bench/symbols');
const { goals, markdown } = require('./bench/report');

async function main() {
  if (process.getuid() !== 0) {
    console.error('bench: needs root to load BPF programs (sudo npm run bench)');
    process.exit(1);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    console.error('bench: dist/ is missing: run `npm run build` first');
    process.exit(1);
  }
  const started = Date.now();
  const dir = (tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-bench-')));
  try {
    const tracefs = tracing();
    if (tracefs.error) throw new SetupError(`per-syscall tracepoints are unavailable, so neither wasmshark's default hooks nor bpftrace can be measured: ${tracefs.error}`);
    const wasmsharkHookSet = wasmsharkHooks(tracefs.dir);
    const tools = build(dir, wasmsharkHookSet);
    tools.hooks = wasmsharkHookSet;
    tools.bpftrace = OPT['no-bpftrace'] ? null : which('bpftrace');
    if (tools.floorError) console.error(`bench: ${tools.floorError}`);
    const machine = {
      kernel: os.release(),
      cpu: os.cpus()[0]?.model,
      cpus: os.cpus().length,
      memGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      bpftrace: tools.bpftrace ? firstLine(tools.bpftrace, ['--version']) : null,
      loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
      virtualized: firstLine('systemd-detect-virt', []) ?? null,
      tracefs: { dir: tracefs.dir, mounted: tracefs.mounted },
    };
    const configs = monitorConfigs(tools);
    const run = async (name, title, fn) => {
      if (!OPT.only.includes(name)) return null;
      process.stderr.write(`bench: ${title} (${Math.round((Date.now() - started) / 1000)} s)\n`);
      return fn();
    };
    const cost = await run('cost', '1+2 cost on the monitored process and on a bystander', () => hookCost(tools, configs));
    const attach = await run('startup', '3 start-up, startProbes()', () => attachTimes());
    const start = await run('startup', '3 start-up, interleaved', () => startup(tools, dir));
    const b = await run('burst', '4 burst', () => burst(tools));
    const sus = await run('sustained', '4 sustained rate', () => sustained(tools));
    const lat = await run('latency', '5 latency', () => latency(tools));
    const idle = await run('idle', '6 idle CPU', () => idleCpu(tools));
    const busy = await run('busy', '7 a busy runtime', () => busyRuntime(tools, configs, dir));
    const watching = await run('watch', '8 the watch', () => watchSection(tools, configs));
    // naming the code behind alerts: what V8's JIT map costs a runtime, what stack capture costs the monitor
    const symbols = await run('symbols', '9 JIT maps and stack capture', () => symbolsBench.run({ rounds: OPT.rounds, secs: OPT['wasm-secs'], burst: 50000 }));
    const result = {
      when: new Date().toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      options: OPT,
      machine,
      hooks: wasmsharkHookSet,
      notes: [...(tools.floorError ? [tools.floorError] : []), ...(busy?.notes ?? [])],
      waitedForQuietMs: quietWaited(),
      hookCost: cost,
      attach,
      startup: start,
      burst: b,
      sustained: sus,
      latency: lat,
      idle,
      busy,
      watch: watching,
      symbols,
    };
    result.goals = goals(result);
    const md = markdown(result) + (symbols ? `\n**9. Naming the code behind alerts.**\n\n${symbolsBench.render(symbols)}\n` : '') + `\nWhole run: ${result.durationS} s.\n`;
    const out = path.join(ROOT, 'bench-results');
    fs.mkdirSync(out, { recursive: true });
    // a partial run (--only) does not overwrite the last full one
    const name = OPT.only.length === SECTIONS.length ? 'bench' : 'bench-partial';
    fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(path.join(out, `${name}.md`), md);
    console.log(md);
    console.log(`written: bench-results/${name}.json, bench-results/${name}.md`);
  } finally {
    killAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let tempDir = null;

process.on('SIGINT', () => {
  killAll();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  process.exit(130);
});

main().catch((err) => {
  killAll();
  console.error(`bench: ${err instanceof SetupError ? err.message : (err.stack ?? err.message)}`);
  process.exit(1);
});
