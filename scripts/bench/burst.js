/* 4: a burst of W+X mmaps at full speed: delivered, dropped, lost, the monitor's CPU and peak RSS. */
'use strict';
const { OPT } = require('./options');
const { underAgent, underBpftrace, throughputRow } = require('./throughput');

async function burst(tools) {
  const runs = { wasmshark: [], 'wasmshark-probes': [], bpftrace: [] };
  const genArgs = ['wx', String(OPT.burst)];
  for (let r = 0; r < OPT['burst-rounds']; r++) {
    runs.wasmshark.push(await underAgent(tools, (pid) => ['monitor', String(pid)], tools.trigger, genArgs));
    runs['wasmshark-probes'].push(await underAgent(tools, (pid) => ['probes', String(pid)], tools.trigger, genArgs));
    if (tools.bpftrace) runs.bpftrace.push(await underBpftrace(tools, tools.trigger, genArgs));
  }
  const rows = [
    throughputRow('wasmshark', 'wasmshark (lean), library monitor()', runs.wasmshark, () => OPT.burst),
    throughputRow('wasmshark-probes', 'wasmshark (lean), startProbes() only', runs['wasmshark-probes'], () => OPT.burst),
  ];
  if (runs.bpftrace.length) rows.push(throughputRow('bpftrace', 'bpftrace, the seed\'s four probes', runs.bpftrace, () => OPT.burst));
  return { events: OPT.burst, rows };
}

module.exports = { burst };
