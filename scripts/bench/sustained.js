/* 4: W+X mmaps paced at a fixed rate for some seconds, under each monitor in interleaved rounds. */
'use strict';
const { OPT } = require('./options');
const { median } = require('./util');
const { underAgent, underBpftrace, throughputRow } = require('./throughput');

async function sustained(tools) {
  const genArgs = ['rate', String(OPT.rate), String(OPT['rate-secs'])];
  const emitted = (run) => Number(run.genOut.split(' ')[0]);
  const configs = [
    ['wasmshark', 'wasmshark (lean), library monitor()', () => underAgent(tools, (pid) => ['monitor', String(pid), '--latency'], tools.paced, genArgs)],
    ['wasmshark-probes', 'wasmshark (lean), startProbes() only', () => underAgent(tools, (pid) => ['probes', String(pid), '--latency'], tools.paced, genArgs)],
    ['wasmshark-exact', 'wasmshark --syscalls exact, library monitor()',
      () => underAgent(tools, (pid) => ['monitor', String(pid), '--latency'], tools.paced, genArgs, 'exact')],
  ];
  if (tools.bpftrace) configs.push(['bpftrace', 'bpftrace, the seed\'s four probes', () => underBpftrace(tools, tools.paced, genArgs)]);
  const runs = Object.fromEntries(configs.map(([name]) => [name, []]));
  for (let r = 0; r < OPT['sustained-rounds']; r++) {
    for (let i = 0; i < configs.length; i++) {
      const [name, , fn] = configs[(i + r) % configs.length];
      runs[name].push(await fn());
    }
  }
  const rows = configs.map(([name, label]) => {
    const row = throughputRow(name, label, runs[name], emitted);
    row.achievedRate = Math.round(median(runs[name].map((run) => emitted(run) / (run.genMs / 1000))));
    row.cpuPercent = median(runs[name].map((run) => (run.result.cpuMs / run.genMs) * 100));
    return row;
  });
  return { rate: OPT.rate, seconds: OPT['rate-secs'], rounds: OPT['sustained-rounds'], rows };
}

module.exports = { sustained };
