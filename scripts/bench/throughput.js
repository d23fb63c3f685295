/*
 * What the burst, sustained and latency sections share: a --wait load
 * generator run under a wasmshark agent or bpftrace, and a row of its figures.
 */
'use strict';
const { Proc, median, msSince, now, parkedInRead, procUsage, sleep } = require('./util');
const { startAgent, startBpftrace, waitQuiet } = require('./monitors');

/** Runs a --wait load generator under an agent job; returns the agent's result and the generator's run time. */
async function underAgent(tools, agentArgs, genCmd, genArgs, syscalls = 'lean') {
  await waitQuiet();
  const gen = new Proc(genCmd, ['--wait', ...genArgs]);
  await parkedInRead(gen.pid);
  const agent = await startAgent(agentArgs(gen.pid), syscalls);
  const t0 = now();
  gen.send('go\n');
  const exit = await gen.exited;
  const genMs = msSince(t0);
  if (exit.code !== 0) throw new Error(`load generator exited ${exit.code}: ${gen.stderr}`);
  // the agent ends by itself when its target exits; stdin closing is the backstop
  let timer;
  const done = await Promise.race([agent.exited, new Promise((resolve) => (timer = setTimeout(resolve, 30000, null)))]);
  clearTimeout(timer);
  if (!done) await agent.stop();
  return { result: agent.json('result'), genMs, genOut: gen.lines[0] ?? '' };
}

/** The same under bpftrace: events counted from its output, losses from its "Lost N events" lines. */
async function underBpftrace(tools, genCmd, genArgs) {
  await waitQuiet();
  const gen = new Proc(genCmd, ['--wait', ...genArgs]);
  await parkedInRead(gen.pid);
  let delivered = 0;
  let lost = 0;
  let last = 0n;
  const bt = startBpftrace(tools, gen.pid, {
    onLine: (line) => {
      if (line.startsWith('MMAP_WX ')) {
        delivered++;
        last = now();
        return true;
      }
      const m = /Lost (\d+) events/.exec(line);
      if (m) lost += Number(m[1]);
      return false;
    },
  });
  await bt.waitLine(/^ready$/);
  const before = procUsage(bt.pid);
  const t0 = now();
  gen.send('go\n');
  const exit = await gen.exited;
  const genMs = msSince(t0);
  if (exit.code !== 0) throw new Error(`load generator exited ${exit.code}: ${gen.stderr}`);
  await sleep(500); // let it print what its perf buffers still hold
  const after = procUsage(bt.pid);
  await bt.stop('SIGINT');
  for (const m of bt.stderr.matchAll(/Lost (\d+) events/g)) lost += Number(m[1]);
  return {
    result: {
      delivered,
      drops: { total: lost },
      cpuMs: after.cpuMs - before.cpuMs,
      maxRssMb: after.maxRssMb,
      wxSpanMs: last ? Number(last - t0) / 1e6 : 0,
    },
    genMs,
    genOut: gen.lines[0] ?? '',
  };
}

const ms3 = (x) => Math.round(x * 1000) / 1000;

function throughputRow(name, label, runs, expectedOf) {
  const r = runs.map((x) => x.result);
  const latencies = r.map((x) => x.eventLatency).filter((x) => x && x.n);
  return {
    config: name,
    label,
    runs: runs.length,
    expected: median(runs.map(expectedOf)),
    delivered: median(r.map((x) => x.delivered)),
    drops: median(r.map((x) => x.drops.total)),
    lost: median(runs.map((x) => expectedOf(x) - x.result.delivered - x.result.drops.total)),
    targetRunMs: median(runs.map((x) => x.genMs)),
    eventsPerSec: median(r.map((x) => (x.wxSpanMs > 0 ? (x.delivered / x.wxSpanMs) * 1000 : 0))),
    monitorCpuMs: median(r.map((x) => x.cpuMs)),
    peakRssMb: Math.max(...r.map((x) => x.maxRssMb ?? 0)),
    eventLatency: latencies.length
      ? { n: median(latencies.map((x) => x.n)), p50Ms: ms3(median(latencies.map((x) => x.p50Ms))), p99Ms: ms3(median(latencies.map((x) => x.p99Ms))), maxMs: Math.max(...latencies.map((x) => x.maxMs)) }
      : null,
  };
}

module.exports = { underAgent, underBpftrace, throughputRow };
