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
 */
'use strict';
const { execFileSync, spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const readline = require('readline');

const ROOT = path.resolve(__dirname, '..');
const BENCH = path.join(ROOT, 'bench');
const AGENT = path.join(BENCH, 'agent.js');
const OBJECT = path.join(ROOT, 'bpf', 'wasmshark.bpf.o');
const WORKERD = path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd');

// ---- flags ----

const FLAGS = {
  rounds: [7, 'churn rounds: every configuration once per round, as target and as bystander'],
  churn: [200000, 'mmap+munmap iterations per churn run'],
  getppid: [2000000, 'getppid() calls per run, with --loop-getppid'],
  'startup-rounds': [10, 'rounds of the start-up measures (CLI, monitor(), bpftrace)'],
  'attach-rounds': [20, 'startProbes() load+attach / stop repetitions'],
  'burst-rounds': [3, 'rounds of the W+X burst (wasmshark monitor(), startProbes(), bpftrace)'],
  burst: [200000, 'W+X mmaps per burst'],
  rate: [100000, 'sustained test: W+X mmaps per second'],
  'rate-secs': [5, 'sustained test: seconds'],
  'sustained-rounds': [3, 'sustained test: rounds (every monitor once per round)'],
  'latency-procs': [200, 'latency test: processes, each mapping W+X 10 times (one alert each)'],
  'idle-secs': [10, 'idle CPU test: seconds'],
  'busy-rounds': [7, 'busy runtime: rounds (every monitor once per round, on workerd and on Node)'],
  'busy-secs': [3, 'busy runtime: seconds of HTTP load on workerd per run'],
  'busy-requests': [100000, 'busy runtime: at most this many HTTP requests per run'],
  'busy-conns': [4, 'busy runtime: keep-alive connections of the load loop (at most 64)'],
  'wasm-secs': [2, 'busy runtime: seconds of the Node WASM workload per run'],
  'quiet-wait': [120, 'seconds to wait in all (whole run) for other processes\' syscall hooks to go'],
};
const SECTIONS = ['cost', 'startup', 'burst', 'sustained', 'latency', 'idle', 'busy', 'symbols'];
const BOOLEAN_FLAGS = {
  'no-bpftrace': 'skip bpftrace even when it is installed',
  'loop-getppid': 'measure 1+2 on a getppid() loop instead of trigger churn: hook costs show plainly (use with --explain)',
  explain: 'add configurations that split wasmshark\'s cost above its floors (targets lookup, counting, call-site check)',
  quick: 'a smoke test: few rounds, short runs (figures are not meaningful)',
  help: 'this text',
};

function parseFlags(argv) {
  const opts = Object.fromEntries(Object.entries(FLAGS).map(([k, [v]]) => [k, v]));
  for (const k of Object.keys(BOOLEAN_FLAGS)) opts[k] = false;
  opts.only = SECTIONS;
  if (argv.includes('--quick')) {
    // smaller defaults; flags given as well still win
    Object.assign(opts, { rounds: 2, churn: 50000, getppid: 500000, 'startup-rounds': 2, 'attach-rounds': 3, 'burst-rounds': 1, burst: 20000 });
    Object.assign(opts, { 'rate-secs': 1, 'sustained-rounds': 1, 'latency-procs': 20, 'idle-secs': 2 });
    Object.assign(opts, { 'busy-rounds': 2, 'busy-secs': 1, 'wasm-secs': 1, 'quiet-wait': 10 });
  }
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'only') {
      opts.only = String(argv[++i] ?? '').split(',');
      const bad = opts.only.find((x) => !SECTIONS.includes(x));
      if (bad !== undefined) usage(`--only takes a comma-separated list of ${SECTIONS.join(', ')}`);
    } else if (name in BOOLEAN_FLAGS) {
      opts[name] = true;
    } else if (name in FLAGS) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) usage(`--${name} needs a positive number`);
      opts[name] = v;
    } else {
      usage(`unknown flag ${argv[i]}`);
    }
  }
  if (opts.help) usage();
  if (opts['busy-conns'] > 64 || !Number.isInteger(opts['busy-conns'])) usage('--busy-conns takes a whole number up to 64');
  return opts;
}

function usage(error) {
  const lines = ['usage: sudo npm run bench [-- FLAGS]', ''];
  for (const [k, [v, help]] of Object.entries(FLAGS)) lines.push(`  --${k} N`.padEnd(24) + `${help} (${v})`);
  lines.push('  --only LIST'.padEnd(24) + `run only these sections (${SECTIONS.join(',')})`);
  for (const [k, help] of Object.entries(BOOLEAN_FLAGS)) lines.push(`  --${k}`.padEnd(24) + help);
  if (error) {
    console.error(`bench: ${error}\n${lines.join('\n')}`);
    process.exit(2);
  }
  console.log(lines.join('\n'));
  process.exit(0);
}

const OPT = parseFlags(process.argv.slice(2));

// ---- small helpers ----

const now = () => process.hrtime.bigint();
const msSince = (t) => Number(now() - t) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

function firstLine(cmd, args) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().split('\n')[0].trim();
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function cpuJiffies() {
  const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** utime+stime (ms) and peak RSS (MB) of a running process. */
function procUsage(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return { cpuMs: ticks * 10, maxRssMb: hwm ? Math.round(Number(hwm[1]) / 1024) : null };
  } catch {
    return { cpuMs: null, maxRssMb: null };
  }
}

/** Resolves once pid is blocked in read(2): a --wait gate waiting for its go line. */
async function parkedInRead(pid, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (fs.readFileSync(`/proc/${pid}/syscall`, 'latin1').startsWith('0 ')) return;
    } catch {
      return;
    }
    await sleep(1);
  }
  throw new Error(`process ${pid} did not block on its go line`);
}

// ---- processes the bench starts ----

const live = new Set();

/** A child process with line-wise stdout, a way to wait for a line, and its exit. */
class Proc {
  constructor(cmd, args, { onLine, stdin = 'pipe' } = {}) {
    this.name = path.basename(cmd) + (args[0] && !args[0].startsWith('-') ? ` ${path.basename(args[0])}` : '');
    this.started = now();
    this.child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.lines = [];
    this.stderr = '';
    this.waiters = [];
    this.exitInfo = null;
    live.add(this);
    this.child.stdin?.on('error', () => {}); // a job that has exited may not read its go line
    this.child.stderr.on('data', (d) => {
      if (this.stderr.length < 65536) this.stderr += d;
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (onLine && onLine(line)) return;
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.re.test(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve({ line, ms: msSince(this.started) });
        }
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, ms: msSince(this.started) };
        live.delete(this);
        for (const w of this.waiters) w.reject(new Error(`${this.name} exited (${code ?? signal}) before printing ${w.re}: ${this.stderr.trim().slice(-500)}`));
        this.waiters = [];
        // stdout may still hold lines: let readline finish before anyone reads them
        setImmediate(() => resolve(this.exitInfo));
      });
    });
  }

  /** The first line matching re (already printed, or to come), and when it came. */
  waitLine(re, timeoutMs = 20000) {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve({ line: seen, ms: null });
    if (this.exitInfo) return Promise.reject(new Error(`${this.name} exited before printing ${re}: ${this.stderr.trim().slice(-500)}`));
    return new Promise((resolve, reject) => {
      const w = { re, resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`${this.name} printed no ${re} within ${timeoutMs} ms: ${this.stderr.trim().slice(-500)}`));
        }
      }, timeoutMs).unref();
    });
  }

  send(text) {
    this.child.stdin.write(text);
  }

  /** Ends the job: closes stdin, or sends a signal; resolves at its exit. */
  async stop(signal) {
    const timers = [];
    if (!this.exitInfo) {
      if (signal) {
        this.child.kill(signal);
        // bpftrace 0.17 now and then ignores a SIGINT that comes right after its BEGIN output: say it again
        timers.push(setInterval(() => this.child.kill(signal), 250));
      } else {
        this.child.stdin?.end();
      }
    }
    timers.push(setTimeout(() => this.child.kill('SIGKILL'), 30000));
    const info = await this.exited;
    for (const t of timers) clearTimeout(t);
    return info;
  }

  /** The JSON after `tag ` on the job's output. */
  json(tag) {
    const line = this.lines.find((l) => l.startsWith(`${tag} `));
    if (!line) throw new Error(`${this.name} printed no ${tag} line: ${this.stderr.trim().slice(-500)}`);
    return JSON.parse(line.slice(tag.length + 1));
  }
}

/** An idle process to follow, killed with everything else if the bench is interrupted. */
function idleProcess() {
  const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
  const entry = { child };
  live.add(entry);
  child.once('exit', () => live.delete(entry));
  return child;
}

function killAll() {
  for (const p of live) p.child.kill('SIGKILL');
}

// ---- tracefs, and the hooks of wasmshark's object ----

/**
 * Where libbpf reads tracepoint ids (debugfs's tracing directory when there
 * is one, else tracefs), mounting tracefs when neither has syscall events, as
 * wasmshark's loader does: per-syscall tracepoints (wasmshark's lean hooks,
 * bpftrace, their floors) need it, and a fresh machine here has it unmounted.
 */
function tracing() {
  if (fs.existsSync('/sys/kernel/debug/tracing')) {
    return { dir: '/sys/kernel/debug/tracing', mounted: false, error: fs.existsSync('/sys/kernel/debug/tracing/events/syscalls') ? null : 'no syscall events under /sys/kernel/debug/tracing' };
  }
  const dir = '/sys/kernel/tracing';
  if (fs.existsSync(`${dir}/events/syscalls`)) return { dir, mounted: false, error: null };
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return { dir, mounted: false, error: `tracefs is not mounted at ${dir} and mounting it failed: ${String(err.stderr ?? err.message).trim().split('\n')[0]}` };
  }
  return { dir, mounted: true, error: fs.existsSync(`${dir}/events/syscalls`) ? null : `tracefs at ${dir} has no syscall events` };
}

/** Names of the sections of an ELF64 little-endian object that hold code: a BPF object's programs. */
function programSections(file) {
  const b = fs.readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF object`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const names = Number(b.readBigUInt64LE(shoff + b.readUInt16LE(0x3e) * shentsize + 0x18));
  const out = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const SHT_PROGBITS = 1;
    const SHF_EXECINSTR = 4n;
    if (b.readUInt32LE(h + 4) !== SHT_PROGBITS || !(b.readBigUInt64LE(h + 8) & SHF_EXECINSTR)) continue;
    const at = names + b.readUInt32LE(h);
    const name = b.toString('latin1', at, b.indexOf(0, at));
    if (name !== '.text') out.push(name); // .text: functions the programs call, not programs
  }
  return out;
}

/**
 * The sections wasmshark attaches in each mode, chosen as its loader chooses
 * (native/bpf_session.cc ChooseHooks): lean takes the per-syscall
 * tracepoints this kernel has and not the two all-syscall hooks, exact the
 * reverse; every other program (sched tracepoints) is in both. Read from the
 * object, so hooks added to it are measured without a change here.
 */
function wasmsharkHooks(tracingDir) {
  const sections = programSections(OBJECT);
  const perSyscall = /^(tp|tracepoint)\/syscalls\/(\w+)$/;
  const all = new Set(['tp_btf/sys_enter', 'tp_btf/sys_exit']);
  const lean = [];
  const exact = [];
  const absent = [];
  for (const sec of sections) {
    const m = perSyscall.exec(sec);
    if (m) {
      if (tracingDir && fs.existsSync(path.join(tracingDir, 'events', 'syscalls', m[2]))) lean.push(sec);
      else absent.push(m[2].replace(/^sys_(enter|exit)_/, ''));
    } else if (all.has(sec)) {
      exact.push(sec);
    } else {
      lean.push(sec);
      exact.push(sec);
    }
  }
  if (!exact.some((s) => all.has(s)) || !lean.some((s) => perSyscall.test(s))) {
    throw new Error(`${OBJECT} does not have both lean and exact syscall programs (sections: ${sections.join(' ')})`);
  }
  return { lean, exact, absent: [...new Set(absent)], leanSyscallTracepoints: lean.filter((s) => perSyscall.test(s)).length };
}

/** C source of empty programs on these sections: a floor. */
function floorSource(sections) {
  const progs = sections.map((sec, i) => {
    if (!/^(tp|tracepoint|tp_btf|raw_tp|raw_tracepoint|fentry|fexit|kprobe|kretprobe)\/[\w/]+$/.test(sec)) {
      throw new Error(`no floor for a program in section ${sec}: a kind of hook the bench does not know`);
    }
    return `SEC("${sec}")\nint floor_${i}(void *ctx) { return 0; }\n`;
  });
  return [
    '// Generated by scripts/bench.js from the sections of bpf/wasmshark.bpf.o: empty programs on its hooks.',
    '#include <linux/bpf.h>',
    '#include <bpf/bpf_helpers.h>',
    '',
    'char LICENSE[] SEC("license") = "Dual BSD/GPL";',
    '',
    ...progs,
  ].join('\n');
}

// ---- build: the load generators, the floor programs and their loader ----

const bpfFlags = (include) => [
  '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86',
  `-I/usr/include/${os.arch() === 'x64' ? 'x86_64' : os.arch()}-linux-gnu`, `-I${include}`,
];

function build(dir, hooks) {
  const cc = which('cc') ?? which('gcc');
  if (!cc) throw new SetupError('needs a C compiler (cc) for its load generators');
  const tools = {
    trigger: path.join(dir, 'trigger'),
    paced: path.join(dir, 'paced'),
    httpload: path.join(dir, 'httpload'),
  };
  execFileSync(cc, ['-O2', '-pthread', path.join(ROOT, 'test', 'fixtures', 'trigger.c'), '-o', tools.trigger]);
  // where int 0x80 is a syscall, lean mode also hooks sys_enter/sys_exit for 32-bit syscalls: its floor has them too
  hooks.ia32 = spawnSync(tools.trigger, ['int80'], { stdio: 'ignore' }).status === 0;
  if (hooks.ia32) hooks.lean.push('tp_btf/sys_enter', 'tp_btf/sys_exit');
  execFileSync(cc, ['-O2', path.join(BENCH, 'paced.c'), '-o', tools.paced]);
  execFileSync(cc, ['-O2', path.join(BENCH, 'httpload.c'), '-o', tools.httpload]);

  const clang = which('clang-14') ?? which('clang');
  const include = path.join(ROOT, 'deps', 'include');
  const libs = [path.join(ROOT, 'deps', 'lib', 'libbpf.a'), path.join(ROOT, 'deps', 'lib', 'libelf.a')];
  tools.floorError = null;
  if (!clang) tools.floorError = 'no clang: the floors are not measured';
  else if (!libs.every((l) => fs.existsSync(l))) tools.floorError = 'no deps/lib/libbpf.a (scripts/build-deps.sh): the floors are not measured';
  if (tools.floorError) return tools;
  tools.loader = path.join(dir, 'loader');
  execFileSync(cc, ['-O2', '-pthread', `-I${include}`, path.join(BENCH, 'loader.c'), ...libs, '-lz', '-o', tools.loader]);
  for (const mode of ['lean', 'exact']) {
    const src = path.join(dir, `floor-${mode}.bpf.c`);
    fs.writeFileSync(src, floorSource(hooks[mode]));
    tools[`floor-${mode}`] = path.join(dir, `floor-${mode}.bpf.o`);
    execFileSync(clang, [...bpfFlags(include), '-c', src, '-o', tools[`floor-${mode}`]]);
  }
  const floor = path.join(BENCH, 'floor.bpf.c');
  const variants = { 'floor-bpftrace': ['-DFLOOR_BPFTRACE'] };
  if (OPT.explain) Object.assign(variants, { 'floor-lookup': ['-DFLOOR_LOOKUP'], 'floor-bitmap': ['-DFLOOR_LOOKUP', '-DFLOOR_BITMAP'] });
  for (const [name, defines] of Object.entries(variants)) {
    tools[name] = path.join(dir, `${name}.bpf.o`);
    execFileSync(clang, [...bpfFlags(include), ...defines, '-c', floor, '-o', tools[name]]);
  }
  return tools;
}

// ---- the monitors being compared ----

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
 * A wasmshark job in a process of its own (bench/agent.js), checked to have
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
let quietBudgetMs = OPT['quiet-wait'] * 1000;
let quietWaitedMs = 0;

/** Waits (within the budget) until no other process has syscall hooks attached. */
async function waitQuiet() {
  const t0 = Date.now();
  while (foreignSyscallHooks().length > 0 && Date.now() - t0 < quietBudgetMs) await sleep(100);
  const waited = Date.now() - t0;
  quietBudgetMs = Math.max(0, quietBudgetMs - waited);
  quietWaitedMs += waited;
}

// ---- 1 + 2: cost on the monitored process and on a bystander ----

async function churnOnce(tools, cfg, role, idle) {
  // under `paced run`, which reports the loop's CPU time besides the wall time trigger prints
  const wait = role === 'target' ? ['--wait'] : [];
  const iterations = OPT['loop-getppid'] ? OPT.getppid : OPT.churn;
  const args = OPT['loop-getppid']
    ? ['run', tools.paced, ...wait, 'getppid', String(iterations)]
    : ['run', tools.trigger, ...wait, 'churn', String(iterations)];
  let gen = null;
  let target = idle;
  if (role === 'target') {
    gen = new Proc(tools.paced, args);
    target = Number((await gen.waitLine(/^child /)).line.split(' ')[1]);
    await parkedInRead(target);
  }
  const session = await cfg.start(target, idle);
  const ours = session?.pids ?? [];
  const foreign0 = foreignSyscallHooks(ours);
  const j0 = cpuJiffies();
  if (gen) gen.send('go\n');
  else gen = new Proc(tools.paced, args);
  const exit = await gen.exited;
  const j1 = cpuJiffies();
  const foreign = [...new Set([...foreign0, ...foreignSyscallHooks(ours)])];
  if (session) await session.stop();
  const ns = Number(gen.lines.find((l) => /^[\d.]+$/.test(l)));
  const ru = gen.lines.find((l) => l.startsWith('rusage '));
  if (exit.code !== 0 || !Number.isFinite(ns) || !ru) throw new Error(`churn exited ${exit.code}: ${gen.stderr}`);
  const [user, sys] = ru.split(' ').slice(1).map(Number);
  return { ns, cpuNs: (user + sys) / iterations, busy: (j1.busy - j0.busy) / Math.max(1, j1.total - j0.total), foreign };
}

async function hookCost(tools, configs) {
  const idle = idleProcess();
  const samples = Object.fromEntries(configs.map((c) => [c.name, { target: [], bystander: [] }]));
  const rounds = [];
  const foreignSeen = new Set();
  let discarded = 0;
  try {
    for (let r = 0; r < OPT.rounds; r++) {
      // rotate the order so no configuration always runs right after another's teardown
      const order = configs.map((_, i) => configs[(i + r) % configs.length]);
      const round = {};
      for (const cfg of order) {
        for (const role of r % 2 ? ['bystander', 'target'] : ['target', 'bystander']) {
          let s;
          // once the budget for waiting is spent, retrying would only repeat the same contamination
          for (let attempt = 0; attempt < (quietBudgetMs > 0 ? 4 : 1); attempt++) {
            await waitQuiet();
            s = await churnOnce(tools, cfg, role, idle.pid);
            if (s.foreign.length === 0) break;
            // another process had syscall hooks attached: that is not this configuration's cost
            discarded++;
            for (const f of s.foreign) foreignSeen.add(f.replace(/\(\d+\)$/, ''));
          }
          if (s.foreign.length) round.contaminated = true;
          samples[cfg.name][role].push(s);
          round[`${cfg.name}/${role}`] = s;
        }
      }
      rounds.push(round);
      process.stderr.write(`  churn round ${r + 1}/${OPT.rounds}\n`);
    }
  } finally {
    idle.kill();
  }
  // rounds where some sample still had someone else's hooks attached count only if too few are clean
  const clean = rounds.filter((rd) => !rd.contaminated);
  const used = clean.length >= Math.min(3, rounds.length) ? clean : rounds;
  /** Median over rounds of a/b within the same round (drift cancels out), and the interquartile range. */
  const paired = (a, b, field) => {
    const xs = used.map((rd) => rd[a][field] / rd[b][field]);
    return { median: median(xs), iqr: [quantile(xs, 0.25), quantile(xs, 0.75)] };
  };
  const results = [];
  for (const cfg of configs) {
    for (const role of ['target', 'bystander']) {
      const xs = samples[cfg.name][role];
      const key = `${cfg.name}/${role}`;
      const floorName = cfg.floor ?? null;
      const floorKey = floorName && samples[floorName] ? `${floorName}/${role}` : null;
      const wall = paired(key, `unmonitored/${role}`, 'ns');
      const cpu = paired(key, `unmonitored/${role}`, 'cpuNs');
      results.push({
        config: cfg.name,
        label: cfg.label,
        role,
        nsPerIteration: median(used.map((rd) => rd[key].ns)),
        cpuNsPerIteration: median(used.map((rd) => rd[key].cpuNs)),
        ratio: wall.median,
        ratioIqr: wall.iqr,
        cpuRatio: cpu.median,
        cpuRatioIqr: cpu.iqr,
        floor: floorKey ? floorName : null,
        ratioToFloor: floorKey ? paired(key, floorKey, 'ns').median : null,
        cpuRatioToFloor: floorKey ? paired(key, floorKey, 'cpuNs').median : null,
        samples: xs,
        machineBusy: median(xs.map((x) => x.busy)),
        foreignHookSamples: xs.filter((x) => x.foreign.length > 0).length,
      });
    }
  }
  return {
    loop: OPT['loop-getppid'] ? `paced getppid ${OPT.getppid}` : `trigger churn ${OPT.churn}`,
    rounds: OPT.rounds,
    roundsUsed: used.length,
    discardedForForeignHooks: discarded,
    foreignHookOwners: [...foreignSeen],
    waitedForQuietMs: quietWaitedMs,
    results,
  };
}

// ---- 3: start-up ----

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

// ---- 4 + 5: throughput, loss, latency ----

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

async function latency(tools) {
  const n = OPT['latency-procs'];
  const { result, genMs } = await underAgent(tools, (pid) => ['monitor', String(pid), '--latency'], tools.paced, ['procs', String(n), '10000', '10']);
  return { processes: n, mmapsPerProcess: 10, genMs, event: result.eventLatency, alert: result.alertLatency, delivered: result.delivered, drops: result.drops.total };
}

// ---- 6: idle CPU ----

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

// ---- 7: a busy runtime ----

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

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

/** workerd serving bench/worker.js (a WASM module run per request) on 127.0.0.1; resolves once it answers. */
async function startWorkerd(tools, dir) {
  const port = await freePort();
  const wd = fs.mkdtempSync(path.join(dir, 'workerd-'));
  fs.copyFileSync(path.join(BENCH, 'worker.js'), path.join(wd, 'worker.js'));
  fs.copyFileSync(path.join(ROOT, 'test', 'scenarios', 'workloads', 'sum.wasm'), path.join(wd, 'sum.wasm'));
  const config = fs.readFileSync(path.join(BENCH, 'workerd.capnp'), 'utf8').replace(/WORKERD_PORT/g, String(port));
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
  for (let attempt = 0; attempt < (quietBudgetMs > 0 ? 4 : 1); attempt++) {
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
        const w = new Proc(process.execPath, [path.join(BENCH, 'wasm-work.js'), String(OPT['wasm-secs'] * 1000)]);
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

// ---- report ----

const f0 = (x) => (x === null || x === undefined ? '–' : Math.round(x).toLocaleString('en'));
const f1 = (x) => (x === null || x === undefined ? '–' : x.toFixed(1));
const f3 = (x) => (x === null || x === undefined ? '–' : x.toFixed(3));

/**
 * The goals of lean hooks by default, each met, not met, or not judged (null: its comparison
 * was not measured in this run). Overheads are judged on CPU time: wall time
 * also counts time spent preempted by whatever else runs.
 */
function goals(r) {
  const out = [];
  const goal = (name, met, measured) => out.push({ goal: name, met, measured });
  const x3 = (v) => `×${f3(v)}`;
  if (r.hookCost) {
    const row = (config, role) => r.hookCost.results.find((x) => x.config === config && x.role === role);
    for (const role of ['target', 'bystander']) {
      const ws = row('wasmshark', role);
      const bt = row('bpftrace', role);
      const ex = row('wasmshark-exact', role);
      goal(`default mode: ${role} overhead ≤ bpftrace's`, bt ? ws.cpuRatio <= bt.cpuRatio : null,
        `CPU time vs unmonitored: monitor() ${x3(ws.cpuRatio)}` + (bt ? ` vs bpftrace ${x3(bt.cpuRatio)}` : ' (no bpftrace)') +
        (ex ? `; --syscalls exact ${x3(ex.cpuRatio)}` : '') + `; wall time ${x3(ws.ratio)}` + (bt ? ` vs ${x3(bt.ratio)}` : ''));
    }
  }
  if (r.busy?.workerd) {
    const row = (c) => r.busy.workerd.rows.find((x) => x.config === c);
    const ws = row('wasmshark');
    const bt = row('bpftrace');
    const ex = row('wasmshark-exact');
    const p99 = (x) => `p99 ${f1(x.p99Us.median / 1000)} ms`;
    goal('busy workerd: requests/s under wasmshark ≥ under bpftrace', bt ? ws.rps.ratio >= bt.rps.ratio : null,
      `${x3(ws.rps.ratio)} of unmonitored (${p99(ws)})` + (bt ? ` vs bpftrace ${x3(bt.rps.ratio)} (${p99(bt)})` : ' (no bpftrace)') +
      (ex ? `; --syscalls exact ${x3(ex.rps.ratio)}` : '') + `; unmonitored ${f0(row('unmonitored').rps.median)} req/s, ${p99(row('unmonitored'))}`);
    goal('busy workerd: requests/s under wasmshark ≥ 0.97 of unmonitored (aim)', ws.rps.ratio >= 0.97,
      `${x3(ws.rps.ratio)} [IQR ${f3(ws.rps.ratioIqr[0])}–${f3(ws.rps.ratioIqr[1])}], medians of per-round ratios`);
  }
  if (r.startup) {
    const s = r.startup;
    goal('CLI start-up to report ≤ 150 ms', s.cliLeanReportMs <= 150,
      `\`wasmshark --timeout 10 -- /bin/true\`: report written at ${f0(s.cliLeanReportMs)} ms (--syscalls exact: ${f0(s.cliExactReportMs)} ms), median of ${s.rounds}`);
    goal('CLI whole `-- /bin/true` run ≤ 150 ms', s.cliLeanWholeMs <= 150,
      `${f0(s.cliLeanWholeMs)} ms, detach included (--syscalls exact: ${f0(s.cliExactWholeMs)} ms)`);
  }
  if (r.sustained) {
    const sw = r.sustained.rows.find((x) => x.config === 'wasmshark');
    const bt = r.sustained.rows.find((x) => x.config === 'bpftrace');
    const none = sw.drops === 0 && sw.lost === 0;
    goal(`sustained ${r.sustained.rate.toLocaleString('en')} events/s: 0 drops, monitor CPU ≤ bpftrace's`, !none ? false : bt ? sw.cpuPercent <= bt.cpuPercent : null,
      `${f0(sw.drops)} dropped, ${f0(sw.lost)} lost of ${f0(sw.expected)} (${f0(sw.achievedRate)}/s); monitor() ${f0(sw.cpuPercent)}% of a core` +
      (bt ? ` vs bpftrace ${f0(bt.cpuPercent)}%` : ' (no bpftrace)') + `, median of ${r.sustained.rounds}`);
  }
  if (r.latency) {
    goal('alert latency p99 ≤ 50 ms', r.latency.alert.p99Ms !== null && r.latency.alert.p99Ms <= 50,
      `alert p99 ${r.latency.alert.p99Ms} ms (p50 ${r.latency.alert.p50Ms}, n=${r.latency.alert.n}); event p99 ${r.latency.event.p99Ms} ms`);
  }
  if (r.burst) {
    const bw = r.burst.rows.find((x) => x.config === 'wasmshark');
    const bp = r.burst.rows.find((x) => x.config === 'wasmshark-probes');
    goal('burst: monitor() peak RSS ≤ 120 MB, nothing lost', bw.peakRssMb <= 120 && bw.drops === 0 && bw.lost === 0,
      `${bw.peakRssMb} MB, ${f0(bw.drops)} dropped, ${f0(bw.lost)} lost of ${f0(bw.expected)} (startProbes() only: ${bp.peakRssMb} MB)`);
  }
  if (r.idle) {
    const id = r.idle;
    goal('idle CPU ≤ 1%, default (lean) mode', id.leanCpuPercent <= 1, `${id.leanCpuPercent.toFixed(2)}% (monitor(pid), syscalls sampled from /proc every 200 ms)`);
    goal('idle CPU ≤ 1%, --syscalls exact', id.exactCpuPercent <= 1, `${id.exactCpuPercent.toFixed(2)}% (monitor(pid, { syscalls: 'exact' }))`);
    goal('idle CPU ≤ 1%, /proc fallback', id.procCpuPercent <= 1, `${id.procCpuPercent.toFixed(2)}% (monitor(pid, { bpf: false }), default intervals)`);
  }
  return out;
}

function markdown(r) {
  const L = [];
  const table = (head, rows) => {
    L.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const row of rows) L.push(`| ${row.join(' | ')} |`);
    L.push('');
  };
  const m = r.machine;
  const h = r.hooks;
  L.push(`Run ${r.when} on ${m.cpu} (${m.cpus} CPUs, ${m.memGb} GB), Linux ${m.kernel}, Node ${m.node}, ${m.bpftrace ?? 'no bpftrace'}. ` +
    `Load average at start ${m.loadavg}. wasmshark's lean hooks here: ${h.leanSyscallTracepoints} syscall tracepoints + ${h.lean.length - h.leanSyscallTracepoints} sched` +
    (h.absent.length ? ` (no tracepoint on this kernel: ${h.absent.join(', ')})` : '') +
    `; tracefs ${m.tracefs.mounted ? `mounted by the bench at ${m.tracefs.dir}` : `at ${m.tracefs.dir}`}.`, '');
  if (r.hookCost) hookTable(r, L, table);
  if (r.startup) startupTable(r, L, table);
  if (r.burst || r.sustained) throughputTables(r, L, table);
  if (r.latency) latencyTable(r, L, table);
  if (r.idle) idleTable(r, L, table);
  if (r.busy) busyTables(r, L, table);
  L.push('**Goals** (CPU time; medians of interleaved rounds; ratios against unmonitored in the same round)', '');
  table(['goal', 'met', 'measured'], r.goals.map((g) => [g.goal, g.met === null ? 'not judged' : g.met ? 'met' : '**not met**', g.measured]));
  return L.join('\n');
}

function hookTable(r, L, table) {
  L.push(`**1 + 2. Cost on a syscall-heavy loop** (\`${r.hookCost.loop}\`${r.hookCost.loop.startsWith('trigger') ? ': RW mmap + munmap' : ': one getppid() per iteration'}), ` +
    `medians of ${r.hookCost.roundsUsed} clean rounds of ${r.hookCost.rounds}, configurations interleaved; ratios are medians of per-round ratios (IQR in brackets). ` +
    `Target: the loop is the monitored process. Bystander: an idle \`sleep\` is monitored, the loop is not.`, '');
  const rows = [];
  const x3 = (v) => (v === null ? '' : `×${f3(v)}`);
  for (const role of ['target', 'bystander']) {
    for (const x of r.hookCost.results.filter((y) => y.role === role)) {
      rows.push([role, x.label, f0(x.nsPerIteration), `${x3(x.ratio)} [${f3(x.ratioIqr[0])}–${f3(x.ratioIqr[1])}]`, x3(x.ratioToFloor),
        f0(x.cpuNsPerIteration), `${x3(x.cpuRatio)} [${f3(x.cpuRatioIqr[0])}–${f3(x.cpuRatioIqr[1])}]`, x3(x.cpuRatioToFloor)]);
    }
  }
  table(['loop is', 'configuration', 'wall ns/iter', 'vs unmonitored', 'vs its floor', 'CPU ns/iter', 'vs unmonitored', 'vs its floor'], rows);
  L.push(`Machine busy during the loop (whole machine; the loop alone is 50%): median ${f0(100 * median(r.hookCost.results.map((x) => x.machineBusy)))}%. ` +
    `Samples redone because another process had syscall hooks attached: ${r.hookCost.discardedForForeignHooks}` +
    (r.hookCost.foreignHookOwners.length ? ` (${r.hookCost.foreignHookOwners.join(', ')})` : '') +
    `; waited ${f1(r.hookCost.waitedForQuietMs / 1000)} s for them to go.`, '');
}

function startupTable(r, L, table) {
  const s = r.startup;
  L.push(`**3. Start-up** (medians of ${s.rounds} interleaved rounds)`, '');
  const st = [
    ['`wasmshark --timeout 10 -- /bin/true`: launch to report written', `${f0(s.cliLeanReportMs)} ms`, `${f0(s.cliExactReportMs)} ms`],
    ['… whole command (detach included)', `${f0(s.cliLeanWholeMs)} ms`, `${f0(s.cliExactWholeMs)} ms`],
    ['library `monitor(pid)` to `ready` (fresh process: first addon load included)', `${f1(s.monitorReadyMs)} ms`, `${f1(s.monitorExactReadyMs)} ms`],
    ['node process start + require + `monitor()` to `ready`', `${f0(s.monitorProcessReadyMs)} ms`, ''],
  ];
  if (r.attach) {
    const a = r.attach;
    st.push([`\`startProbes()\` load + attach (in-process, median of ${a.n}; programs attached)`,
      `${f1(a.lean.attachMs)} ms (${a.lean.programs})`, `${f1(a.exact.attachMs)} ms (${a.exact.programs})`]);
    st.push(['`stop()` to drained (everything delivered) / to detached', `${f1(a.lean.drainedMs)} / ${f1(a.lean.stopMs)} ms`, `${f1(a.exact.drainedMs)} / ${f1(a.exact.stopMs)} ms`]);
  }
  if (s.bpftraceAttachedMs !== null) {
    st.push(['bpftrace, seed\'s four probes: launch to probes attached', `${f0(s.bpftraceAttachedMs)} ms`, '']);
    st.push(['bpftrace: SIGINT to exit (detach)', `${f0(s.bpftraceDetachMs)} ms`, '']);
    st.push(['bpftrace with `BEGIN { exit() }`: whole command', `${f0(s.bpftraceWholeMs)} ms`, '']);
  }
  table(['measure', 'wasmshark (lean) / bpftrace', '--syscalls exact'], st);
}

function throughputTables(r, L, table) {
  if (r.burst) {
    L.push(`**4. Throughput and loss.** Burst: \`trigger wx ${r.burst.events}\` (W+X mmap+munmap at full speed), median of ${r.burst.rows[0].runs}. ` +
    `Events/s: first W+X syscall in the kernel to the last event delivered. CPU and peak RSS: the monitoring process.`, '');
  table(['burst', 'delivered', 'dropped (counted)', 'lost', 'target run', 'events/s delivered', 'monitor CPU', 'peak RSS'],
    r.burst.rows.map((x) => [x.label, f0(x.delivered), f0(x.drops), f0(x.lost), `${f0(x.targetRunMs)} ms`, f0(x.eventsPerSec), `${f0(x.monitorCpuMs)} ms`, `${x.peakRssMb} MB`]));
  }
  if (!r.sustained) return;
  L.push(`Sustained: \`paced rate ${r.sustained.rate} ${r.sustained.seconds}\` (W+X mmap+munmap paced at ${r.sustained.rate.toLocaleString('en')}/s for ${r.sustained.seconds} s), ` +
    `medians of ${r.sustained.rounds} interleaved rounds.`, '');
  table(['sustained', 'achieved rate', 'delivered', 'dropped (counted)', 'lost', 'monitor CPU', 'peak RSS', 'event latency p50 / p99'],
    r.sustained.rows.map((x) => [x.label, `${f0(x.achievedRate)}/s`, f0(x.delivered), f0(x.drops), f0(x.lost), `${f0(x.cpuPercent)}% of a core`, `${x.peakRssMb} MB`,
      x.eventLatency && x.eventLatency.n ? `${x.eventLatency.p50Ms} / ${x.eventLatency.p99Ms} ms` : '–']));
}

function latencyTable(r, L, table) {
  const lt = r.latency;
  L.push(`**5. Detection latency** (kernel timestamp of the syscall to the JS callback, library \`monitor()\`; ` +
    `${lt.processes} processes started 10 ms apart, each mapping W+X 10 times 100 µs apart: one alert each)`, '');
  table(['callback', 'n', 'p50', 'p99', 'max'], [
    ['`alert` (first W+X mmap of a new process)', lt.alert.n, `${lt.alert.p50Ms} ms`, `${lt.alert.p99Ms} ms`, `${lt.alert.maxMs} ms`],
    ['`event` (every W+X mmap)', lt.event.n, `${lt.event.p50Ms} ms`, `${lt.event.p99Ms} ms`, `${lt.event.maxMs} ms`],
  ]);
}

function idleTable(r, L, table) {
  const id = r.idle;
  L.push(`**6. Idle CPU** (watching an idle process for ${id.seconds} s, all at once; CPU time / wall time)`, '');
  const idleRows = [
    ['`monitor(pid)`: lean hooks, syscalls sampled from /proc every 200 ms', `${id.leanCpuPercent.toFixed(2)}%`, `${id.leanRssMb} MB`],
    ['`monitor(pid, { syscalls: \'exact\' })`', `${id.exactCpuPercent.toFixed(2)}%`, `${id.exactRssMb} MB`],
    ['`monitor(pid, { bpf: false })`: /proc fallback, default intervals', `${id.procCpuPercent.toFixed(2)}%`, `${id.procRssMb} MB`],
  ];
  if (id.bpftraceCpuPercent !== null) idleRows.push(['bpftrace, the seed\'s four probes', `${id.bpftraceCpuPercent.toFixed(2)}%`, '']);
  table(['monitor', 'CPU', 'peak RSS'], idleRows);
}

function busyTables(r, L, table) {
  const b = r.busy;
  const ratio = (x) => `×${f3(x.ratio)} [${f3(x.ratioIqr[0])}–${f3(x.ratioIqr[1])}]`;
  const cpu = (x) => (x.monitorCpuPercent === null ? '–' : `${f1(x.monitorCpuPercent)}%`) + (x.monitorEvents === null ? '' : `, ${f0(x.monitorEvents)} events`);
  L.push(`**7. A busy runtime**, medians of ${b.roundsUsed} clean rounds of ${b.rounds}, monitors interleaved; ratios are medians of per-round ratios to unmonitored (IQR in brackets). ` +
    `The monitor follows the runtime's process, attached once it is warm.`, '');
  if (b.workerd) {
    const w = b.workerd;
    L.push(`workerd serving \`bench/worker.js\` (instantiates a WASM module and runs it, per request) on 127.0.0.1; ` +
      `\`httpload\`: ${w.connections} keep-alive connections at full speed, ${w.seconds} s or ${w.maxRequests.toLocaleString('en')} requests per run.`, '');
    table(['workerd under', 'requests/s', 'vs unmonitored', 'p50', 'p99', 'p99 vs unmonitored', 'workerd CPU/request', 'vs unmonitored', 'monitor CPU, events seen'],
      w.rows.map((x) => [x.label, f0(x.rps.median), ratio(x.rps), `${f1(x.p50Us.median / 1000)} ms`, `${f1(x.p99Us.median / 1000)} ms`, ratio(x.p99Us),
        `${f0(x.cpuUsPerRequest.median)} µs`, ratio(x.cpuUsPerRequest), cpu(x)]));
  }
  const n = b.wasm;
  L.push(`Node: \`bench/wasm-work.js\` instantiates a WASM module and runs it, over and over, for ${n.seconds} s.`, '');
  table(['Node WASM workload under', 'iterations/s', 'vs unmonitored', 'CPU/iteration', 'vs unmonitored', 'monitor CPU, events seen'],
    n.rows.map((x) => [x.label, f0(x.perSec.median), ratio(x.perSec), `${f1(x.cpuUsPerIteration.median)} µs`, ratio(x.cpuUsPerIteration), cpu(x)]));
  for (const note of b.notes) L.push(note, '');
}

// ---- main ----

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
    // naming the code behind alerts: its own file (scripts/bench-symbols.js)
    const symbols = await run('symbols', '8 JIT maps and stack capture', () => require('./bench-symbols').run({ rounds: OPT.rounds, secs: OPT['wasm-secs'], burst: 50000 }));
    const result = {
      when: new Date().toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      options: OPT,
      machine,
      hooks: wasmsharkHookSet,
      notes: [...(tools.floorError ? [tools.floorError] : []), ...(busy?.notes ?? [])],
      waitedForQuietMs: quietWaitedMs,
      hookCost: cost,
      attach,
      startup: start,
      burst: b,
      sustained: sus,
      latency: lat,
      idle,
      busy,
      symbols,
    };
    result.goals = goals(result);
    const md = markdown(result) + (symbols ? `\n**8. Naming the code behind alerts.**\n\n${require('./bench-symbols').render(symbols)}\n` : '') + `\nWhole run: ${result.durationS} s.\n`;
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

/** What the machine lacks for a run: said in one line, not with a stack. */
class SetupError extends Error {}

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
