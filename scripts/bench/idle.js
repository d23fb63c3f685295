/* 6: what watching an idle process costs each monitor, all of them at once. */
'use strict';
const { OPT } = require('./options');
const { idleProcess, msSince, now, procUsage, sleep } = require('./util');
const { startAgent, startBpftrace, waitQuiet } = require('./monitors');

async function idleCpu(tools) {
  const idlers = [0, 1, 2, 3].map(() => idleProcess());
  try {
    await waitQuiet();
    // all at once: the same minutes of the machine for each
    const started = [
      startAgent(['monitor', String(idlers[0].pid)], 'lean'),
      startAgent(['monitor', String(idlers[1].pid)], 'exact'),
      startAgent(['monitor', String(idlers[2].pid), '--no-bpf'], null),
    ];
    const bt = tools.bpftrace ? startBpftrace(tools, idlers[3].pid) : null;
    const [lean, exact, proc] = await Promise.all(started);
    await bt?.waitLine(/^ready$/);
    const bt0 = bt ? procUsage(bt.pid) : null;
    const t0 = now();
    await sleep(OPT['idle-secs'] * 1000);
    const btCpu = bt ? (procUsage(bt.pid).cpuMs - bt0.cpuMs) / msSince(t0) : null;
    await Promise.all([lean.stop(), exact.stop(), proc.stop(), bt?.stop('SIGINT')]);
    const [l, e, p] = [lean, exact, proc].map((x) => x.json('result'));
    return {
      seconds: OPT['idle-secs'],
      leanCpuPercent: l.cpuPercent,
      exactCpuPercent: e.cpuPercent,
      procCpuPercent: p.cpuPercent,
      bpftraceCpuPercent: btCpu === null ? null : btCpu * 100,
      leanRssMb: l.maxRssMb,
      exactRssMb: e.maxRssMb,
      procRssMb: p.maxRssMb,
    };
  } finally {
    for (const p of idlers) p.kill();
  }
}

module.exports = { idleCpu };
