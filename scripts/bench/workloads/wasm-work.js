#!/usr/bin/env node
/*
 * The bench's Node WASM workload: instantiate a module and run it, over and
 * over, as a server would per request. Compiles first and prints `ready`,
 * then waits for a line on stdin (so the bench can attach a monitor to this
 * process before it works), runs for MS milliseconds and prints
 *   iterations N ms WALL cpu_ms CPU
 * and exits when stdin closes (the monitor's figures are read meanwhile).
 *
 *   node scripts/bench/workloads/wasm-work.js MS
 */
'use strict';
const path = require('path');

const bytes = require(path.join(__dirname, '..', '..', '..', 'test', 'scenarios', 'workloads', 'wasm-module.js'));
const ms = Number(process.argv[2]);
if (!(ms > 0)) {
  process.stderr.write('usage: wasm-work.js MS\n');
  process.exit(2);
}
const mod = new WebAssembly.Module(bytes);
if (new WebAssembly.Instance(mod).exports.sum(10) !== 45) process.exit(1);
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(ms) * 1000000n;
  let n = 0;
  let total = 0;
  // the clock is read every 64 iterations: a read per iteration would be a good part of the work
  while ((n & 63) !== 0 || process.hrtime.bigint() < until) {
    total += new WebAssembly.Instance(mod).exports.sum(20000);
    n++;
  }
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  if (total !== n * 199990000) process.exit(1);
  process.stdout.write(`iterations ${n} ms ${wallMs.toFixed(3)} cpu_ms ${((cpu.user + cpu.system) / 1000).toFixed(3)}\n`);
  process.stdin.on('end', () => process.exit(0));
});
