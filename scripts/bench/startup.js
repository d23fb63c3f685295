/*
 * 3: start-up. The CLI's whole run, monitor() to ready, startProbes() load +
 * attach and stop(), and bpftrace's own, in interleaved rounds.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { OPT } = require('./options');
const { ROOT, Proc, idleProcess, median, msSince, now } = require('./util');
const { startAgent, startBpftrace, waitQuiet } = require('./monitors');

/** startProbes() load + attach, and stop() to drained (records delivered) and to detached, in-process, per mode. */
async function attachTimes() {
  const { startProbes } = require(path.join(ROOT, 'dist', 'probes.js'));
  const s = { lean: { attach: [], drained: [], stop: [], links: null }, exact: { attach: [], drained: [], stop: [], links: null } };
  for (let i = 0; i < OPT['attach-rounds']; i++) {
    for (const mode of i % 2 ? ['exact', 'lean'] : ['lean', 'exact']) {
      const t0 = now();
      const probes = startProbes({ syscalls: mode });
      const t1 = now();
      if (probes.hooks.syscalls !== mode) throw new Error(`startProbes({ syscalls: '${mode}' }) attached ${probes.hooks.syscalls} hooks: ${probes.hooks.warnings.join('; ')}`);
      s[mode].links = probes.programs().filter((p) => p.linkId > 0).length;
      let drained = null;
      void probes.drained.then(() => (drained = msSince(t1)));
      await probes.stop();
      s[mode].attach.push(Number(t1 - t0) / 1e6);
      s[mode].stop.push(msSince(t1));
      s[mode].drained.push(drained ?? msSince(t1));
    }
  }
  const out = { n: OPT['attach-rounds'] };
  for (const mode of ['lean', 'exact']) {
    out[mode] = { attachMs: median(s[mode].attach), drainedMs: median(s[mode].drained), stopMs: median(s[mode].stop), programs: s[mode].links };
  }
  return out;
}

/**
 * The CLI's whole `-- /bin/true` run: launch to the report written (the
 * --output file appearing, or the summary printed after it if that is seen
 * first), and to the exit (the detach included).
 */
async function cliRun(dir, mode) {
  const report = path.join(dir, `report-${mode}.json`);
  fs.rmSync(report, { force: true });
  let fileMs = null;
  let p = null;
  const watcher = fs.watch(dir, (_, name) => {
    if (fileMs === null && p && name === path.basename(report) && fs.existsSync(report)) fileMs = msSince(p.started);
  });
  try {
    p = new Proc(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--timeout', '10', '--output', report,
      ...(mode === 'exact' ? ['--syscalls', 'exact'] : []), '--', '/bin/true']);
    // the summary's Duration row comes right after the report is written
    const summary = p.waitLine(/^Duration\s+:/).catch(() => null);
    const exit = await p.exited;
    const line = await summary;
    if (exit.code !== 0 || !fs.existsSync(report)) throw new Error(`wasmshark CLI (${mode}) exited ${exit.code ?? exit.signal}: ${p.stderr.trim().slice(-500)}`);
    if (/falling back|hooking every syscall instead/.test(p.stderr)) throw new Error(`wasmshark CLI (${mode}) did not get its hooks: ${p.stderr.trim()}`);
    const reportMs = Math.min(...[fileMs, line?.ms].filter((x) => x !== null && x !== undefined));
    return { reportMs: Number.isFinite(reportMs) ? reportMs : exit.ms, wholeMs: exit.ms };
  } finally {
    watcher.close();
  }
}

async function startup(tools, dir) {
  const idle = idleProcess();
  const s = {
    cliLeanReport: [], cliLeanWhole: [], cliExactReport: [], cliExactWhole: [],
    monitorReady: [], monitorProcessReady: [], monitorExactReady: [],
    bpftraceAttached: [], bpftraceWhole: [], bpftraceDetach: [],
  };
  const reports = fs.mkdtempSync(path.join(dir, 'cli-'));
  try {
    for (let r = 0; r < OPT['startup-rounds']; r++) {
      await waitQuiet();
      const jobs = [
        async () => {
          const x = await cliRun(reports, 'lean');
          s.cliLeanReport.push(x.reportMs);
          s.cliLeanWhole.push(x.wholeMs);
        },
        async () => {
          const x = await cliRun(reports, 'exact');
          s.cliExactReport.push(x.reportMs);
          s.cliExactWhole.push(x.wholeMs);
        },
        async () => {
          const t = now();
          const p = await startAgent(['monitor', String(idle.pid)], 'lean');
          s.monitorProcessReady.push(msSince(t));
          await p.stop();
          s.monitorReady.push(p.json('ready').readyMs);
        },
        async () => {
          const p = await startAgent(['monitor', String(idle.pid)], 'exact');
          await p.stop();
          s.monitorExactReady.push(p.json('ready').readyMs);
        },
      ];
      if (tools.bpftrace) {
        jobs.push(async () => {
          // attached: launch to the BEGIN line (printed once every probe is attached)
          const p = startBpftrace(tools, idle.pid);
          s.bpftraceAttached.push((await p.waitLine(/^ready$/)).ms);
          const t = now();
          await p.stop('SIGINT');
          s.bpftraceDetach.push(msSince(t));
          // the whole command: launch, attach, exit at once (as the CLI does with /bin/true)
          const q = startBpftrace(tools, idle.pid, { exitAtOnce: true });
          s.bpftraceWhole.push((await q.exited).ms);
        });
      }
      for (let i = 0; i < jobs.length; i++) await jobs[(i + r) % jobs.length]();
    }
  } finally {
    idle.kill();
    fs.rmSync(reports, { recursive: true, force: true });
  }
  const m = (xs) => (xs.length ? median(xs) : null);
  return {
    rounds: OPT['startup-rounds'],
    cliLeanReportMs: m(s.cliLeanReport),
    cliLeanWholeMs: m(s.cliLeanWhole),
    cliExactReportMs: m(s.cliExactReport),
    cliExactWholeMs: m(s.cliExactWhole),
    monitorReadyMs: m(s.monitorReady),
    monitorExactReadyMs: m(s.monitorExactReady),
    monitorProcessReadyMs: m(s.monitorProcessReady),
    bpftraceAttachedMs: m(s.bpftraceAttached),
    bpftraceDetachMs: m(s.bpftraceDetach),
    bpftraceWholeMs: m(s.bpftraceWhole),
    samples: s,
  };
}

module.exports = { attachTimes, startup };
