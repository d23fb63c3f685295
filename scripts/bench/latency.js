/* 5: kernel timestamp of the syscall to the library's callback, for events and for alerts. */
'use strict';
const { OPT } = require('./options');
const { underAgent } = require('./throughput');

async function latency(tools) {
  const n = OPT['latency-procs'];
  const { result, genMs } = await underAgent(tools, (pid) => ['monitor', String(pid), '--latency'], tools.paced, ['procs', String(n), '10000', '10']);
  return { processes: n, mmapsPerProcess: 10, genMs, event: result.eventLatency, alert: result.alertLatency, delivered: result.delivered, drops: result.drops.total };
}

module.exports = { latency };
