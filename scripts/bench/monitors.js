/*
 * The monitors being compared (unmonitored, floors, wasmshark as a library
 * in its own process, bpftrace), how a sample is taken under one of them, and
 * the watch for other people's syscall hooks that would spoil a sample.
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const { OPT } = require('./options');
const { AGENT, OBJECT, Proc, live, now, msSince, sleep, procUsage } = require('./util');

/** The seed's four bpftrace probes, filtered on one pid; BEGIN says when all are attached. */
function bpftraceScript(pid, { exitAtOnce = false } = {}) {
  return [
    `tracepoint:syscalls:sys_enter_execve /pid == ${pid}/ { printf("EXEC %d %s\\n", pid, str(args->filename)); }`,
    `tracepoint:syscalls:sys_enter_mmap /pid == ${pid} && (args->prot & 6) == 6/ { printf("MMAP_WX %d prot=%d len=%d\\n", pid, args->prot, args->len); }`,
    `tracepoint:syscalls:sys_enter_mprotect /pid == ${pid} && (args->prot & 4) == 4/ { printf("MPROTECT_X %d prot=%d\\n", pid, args->prot); }`,
    `tracepoint:syscalls:sys_enter_connect /pid == ${pid}/ { printf("CONNECT %d\\n", pid); }`,
    `BEGIN { printf("ready\\n");${exitAtOnce ? ' exit();' : ''} }`,
  ].join('\n');
}

function startBpftrace(tools, pid, options = {}) {
  return new Proc(tools.bpftrace, ['-B', 'line', '-e', bpftraceScript(pid, options)], options);
}

/**
 * A wasmshark job in a process of its own (scripts/bench/workloads/agent.js), checked to have
 * the syscall hooks it was asked for ('lean', 'exact'; null: none asked).
 */
async function startAgent(args, syscalls) {
  const p = new Proc(process.execPath, [AGENT, ...args, ...(syscalls === 'exact' ? ['--exact'] : [])]);
  const info = JSON.parse((await p.waitLine(/^ready /)).line.slice(6));
  if (syscalls && (info.bpf === false || info.syscalls !== syscalls)) {
    await p.stop();
    throw new Error(`wasmshark was asked for ${syscalls} syscall hooks and got ${info.bpf === false ? `no eBPF (${info.bpfError})` : info.syscalls}: ${p.stderr.trim()}`);
  }
  return p;
}

/**
 * Every monitor configuration: start(target, idle) attaches and resolves
 * once it is live (following `target`); stop() detaches and resolves once
 * everything is detached. `floor`: the configuration whose hooks it uses.
 */
function monitorConfigs(tools) {
  const loaderConfig = (name, label, object, args = () => [], floor = null) => ({
    name,
    label,
    floor,
    start: async (target, idle) => {
      const p = new Proc(tools.loader, [object, ...args(target, idle)]);
      await p.waitLine(/^ready/);
      return { pids: [p.pid], stop: () => p.stop() };
    },
  });
  const agentConfig = (name, label, mode, syscalls, floor) => ({
    name,
    label,
    floor,
    start: async (target, idle) => {
      const args = mode === 'monitor' ? ['monitor', String(target)] : ['probes', String(target), String(idle), ...(mode === 'probes-nocompat' ? ['--no-compat'] : [])];
      const p = await startAgent(args, syscalls);
      // events: what the monitor received from the kernel about its targets, once stopped
      const events = () => {
        const r = p.json('result');
        return r.eventsTotal ?? r.delivered ?? null;
      };
      return { pids: [p.pid], stop: () => p.stop(), events };
    },
  });
  const { hooks } = tools;
  const configs = [{ name: 'unmonitored', label: 'unmonitored', start: async () => null }];
  if (tools.loader) {
    configs.push(loaderConfig('floor-lean', `floor: empty programs on wasmshark's lean hooks (${hooks.leanSyscallTracepoints} syscall tracepoints + sched)`, tools['floor-lean']));
  }
  configs.push(agentConfig('wasmshark', 'wasmshark (lean), library monitor()', 'monitor', 'lean', 'floor-lean'));
  configs.push(agentConfig('wasmshark-probes', 'wasmshark (lean), startProbes() only', 'probes', 'lean', 'floor-lean'));
  if (hooks.ia32) {
    // what the two hooks for 32-bit syscalls add to every process on the host
    configs.push(agentConfig('wasmshark-probes-nocompat', 'wasmshark (lean), startProbes() only, without the int 0x80 hooks', 'probes-nocompat', 'lean', 'floor-lean'));
  }
  if (tools.loader) configs.push(loaderConfig('floor-exact', 'floor: empty programs on wasmshark\'s exact hooks (sys_enter, sys_exit + sched)', tools['floor-exact']));
  configs.push(agentConfig('wasmshark-exact', 'wasmshark --syscalls exact, library monitor()', 'monitor', 'exact', 'floor-exact'));
  if (tools.loader && OPT.explain) {
    // wasmshark's own object through the bench's loader, settings switched off one by one
    const follow = (target, idle) => ['--target', String(target), ...(target === idle ? [] : ['--target', String(idle)])];
    const sections = (mode) => hooks[mode].flatMap((s) => ['--section', s]);
    const object = (mode, settings) => (t, i) => [...sections(mode), ...settings, ...follow(t, i)];
    configs.push(loaderConfig('explain-lean', 'explain: wasmshark.bpf.o, lean hooks, as the library loads it', OBJECT, object('lean', ['count_syscalls=0']), 'floor-lean'));
    configs.push(loaderConfig('explain-lean-nosites', 'explain: wasmshark.bpf.o, lean hooks, call-site check off', OBJECT,
      object('lean', ['count_syscalls=0', 'check_syscall_sites=0']), 'floor-lean'));
    configs.push(loaderConfig('explain-lookup', 'explain: exact floor + targets lookup (the bystander path)', tools['floor-lookup'], follow, 'floor-exact'));
    configs.push(loaderConfig('explain-bitmap', 'explain: exact floor + bitmap prefilter, then targets lookup', tools['floor-bitmap'], follow, 'floor-exact'));
    configs.push(loaderConfig('explain-exact', 'explain: wasmshark.bpf.o, exact hooks, as the library loads it', OBJECT, object('exact', ['count_syscalls=1']), 'floor-exact'));
    configs.push(loaderConfig('explain-exact-nocount', 'explain: wasmshark.bpf.o, exact hooks, syscall counting off', OBJECT,
      object('exact', ['count_syscalls=0']), 'floor-exact'));
    configs.push(loaderConfig('explain-exact-nosites', 'explain: wasmshark.bpf.o, exact hooks, counting and call-site check off', OBJECT,
      object('exact', ['count_syscalls=0', 'check_syscall_sites=0']), 'floor-exact'));
  }
  if (tools.loader) configs.push(loaderConfig('floor-bpftrace', 'floor: empty programs on bpftrace\'s four tracepoints', tools['floor-bpftrace']));
  if (tools.bpftrace) {
    configs.push({
      name: 'bpftrace',
      label: 'bpftrace, the seed\'s four probes',
      floor: 'floor-bpftrace',
      start: async (target) => {
        // the target's events it prints are counted, not kept: a busy target may cause plenty
        let printed = 0;
        const onLine = (line) => {
          if (line === 'ready') return false;
          if (/^(EXEC|MMAP_WX|MPROTECT_X|CONNECT) /.test(line)) printed++;
          return true;
        };
        const p = startBpftrace(tools, target, { onLine });
        await p.waitLine(/^ready$/);
        return { pids: [p.pid], stop: () => p.stop('SIGINT'), events: () => printed };
      },
    });
  }
  return configs;
}

/**
 * Syscall hooks attached by processes other than the bench's own (someone
 * else's test run), as "comm(pid)": their hooks would put the unmonitored
 * loop on the slow path too. `bpftool perf show` lists both kinds, per-syscall
 * tracepoints (sys_enter_mmap, ...: wasmshark's lean hooks, bpftrace) and BTF
 * tracepoints (sys_enter, sys_exit: exact hooks), with the pid holding them;
 * the bench's own jobs, and any pids in `ours`, are not foreign.
 */
function foreignSyscallHooks(ours = []) {
  let entries;
  try {
    entries = JSON.parse(execFileSync('bpftool', ['perf', 'show', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString() || '[]');
  } catch {
    return []; // no bpftool: cannot tell
  }
  const mine = new Set([process.pid, ...ours, ...[...live].map((p) => p.child.pid)]);
  const who = (pid) => {
    try {
      return `${fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim()}(${pid})`;
    } catch {
      return `(${pid})`;
    }
  };
  const pids = new Set(entries.filter((e) => !mine.has(e.pid) && /^sys_(enter|exit)/.test(e.tracepoint ?? '')).map((e) => e.pid));
  return [...pids].map(who);
}

/** Budget for waiting on other people's syscall hooks to go away, for the whole run. */
let quietBudgetMs = null;
let quietWaitedMs = 0;

/** What is left of the budget (ms); the first call sets it from --quiet-wait. */
function quietBudgetLeft() {
  if (quietBudgetMs === null) quietBudgetMs = OPT['quiet-wait'] * 1000;
  return quietBudgetMs;
}

/** How long the run has waited for other people's hooks so far (ms). */
const quietWaited = () => quietWaitedMs;

/** Waits (within the budget) until no other process has syscall hooks attached. */
async function waitQuiet() {
  const t0 = Date.now();
  while (foreignSyscallHooks().length > 0 && Date.now() - t0 < quietBudgetLeft()) await sleep(100);
  const waited = Date.now() - t0;
  quietBudgetMs = Math.max(0, quietBudgetLeft() - waited);
  quietWaitedMs += waited;
}

/** How long a monitor has followed the runtime before the measured run starts (unmonitored waits as long). */
const SETTLE_MS = 500;

/**
 * One sample with configuration cfg following a workload: setup() resolves
 * to { pid, run, cleanup }, run() to the workload's figures. Redone, within
 * the waiting budget, while someone else's syscall hooks are attached. Adds
 * the monitor's own CPU over the run, as % of a core.
 */
async function monitoredSample(cfg, setup) {
  let s;
  for (let attempt = 0; attempt < (quietBudgetLeft() > 0 ? 4 : 1); attempt++) {
    await waitQuiet();
    const w = await setup();
    let session = null;
    try {
      session = await cfg.start(w.pid, w.pid);
      // steady state: a monitor's first pass over the new target is not what a busy runtime lives with
      await sleep(SETTLE_MS);
      const ours = session?.pids ?? [];
      const foreign0 = foreignSyscallHooks(ours);
      const cpu0 = ours.map((p) => procUsage(p).cpuMs);
      const t0 = now();
      s = await w.run();
      const ms = msSince(t0);
      const cpu = ours.map((p, i) => {
        const u = procUsage(p).cpuMs;
        return u === null || cpu0[i] === null ? NaN : u - cpu0[i];
      });
      s.monitorCpuPercent = cpu.every(Number.isFinite) ? (cpu.reduce((a, b) => a + b, 0) / ms) * 100 : null;
      s.foreign = [...new Set([...foreign0, ...foreignSyscallHooks(ours)])];
    } finally {
      if (session) await session.stop();
      await w.cleanup?.();
    }
    s.monitorEvents = session?.events ? session.events() : null;
    if (s.foreign.length === 0) break;
  }
  return s;
}

module.exports = {
  startBpftrace, startAgent, monitorConfigs, foreignSyscallHooks, waitQuiet, quietBudgetLeft, quietWaited, monitoredSample, SETTLE_MS,
};
