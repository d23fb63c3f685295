#!/usr/bin/env node
/*
 * wasmshark benchmarks, side by side in one run: unmonitored, wasmshark (the
 * library: monitor() and bare startProbes()), bpftrace running the seed's four
 * probes, and the floor of each, i.e. empty BPF programs on the same hooks.
 * The machines this runs on are shared and noisy, so configurations
 * interleave round by round (drift hits them all alike) and the figures are
 * medians and ratios within the run, never wall-clock bounds.
 *
 *   sudo npm run bench [-- --rounds 7 --churn 200000 --quick ...]   (--help lists the flags)
 *
 * Writes bench-results/bench.json and bench-results/bench.md and prints the
 * tables (a run of some sections, --only, writes bench-partial.* instead). Needs root (BPF), cc, clang (the floor programs) and `npm run build`;
 * bpftrace is optional. See docs/benchmarks.md for what each figure means.
 */
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const ROOT = path.resolve(__dirname, '..');
const BENCH = path.join(ROOT, 'bench');
const AGENT = path.join(BENCH, 'agent.js');

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
  'latency-procs': [200, 'latency test: processes, each mapping W+X 10 times (one alert each)'],
  'idle-secs': [10, 'idle CPU test: seconds'],
};
const SECTIONS = ['cost', 'startup', 'burst', 'sustained', 'latency', 'idle'];
const BOOLEAN_FLAGS = {
  'no-bpftrace': 'skip bpftrace even when it is installed',
  'loop-getppid': 'measure 1+2 on a getppid() loop instead of trigger churn: hook costs show plainly (use with --explain)',
  explain: 'add configurations that split wasmshark\'s cost above its floor (targets lookup, counting, call-site check)',
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
    Object.assign(opts, { 'rate-secs': 1, 'latency-procs': 20, 'idle-secs': 2 });
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
  return opts;
}

function usage(error) {
  const lines = ['usage: sudo npm run bench [-- FLAGS]', ''];
  for (const [k, [v, help]] of Object.entries(FLAGS)) lines.push(`  --${k} N`.padEnd(22) + `${help} (${v})`);
  lines.push('  --only LIST'.padEnd(22) + `run only these sections (${SECTIONS.join(',')})`);
  for (const [k, help] of Object.entries(BOOLEAN_FLAGS)) lines.push(`  --${k}`.padEnd(22) + help);
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

// ---- build: the load generators, the floor programs and their loader ----

const bpfFlags = (include) => [
  '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86',
  `-I/usr/include/${os.arch() === 'x64' ? 'x86_64' : os.arch()}-linux-gnu`, `-I${include}`,
];

/**
 * --explain: the floor with wasmshark's bystander test (a hash lookup), the
 * same behind a proposed one-bit-per-tgid prefilter, the floor with exit
 * tracepoints for just the syscalls whose result wasmshark reads, and
 * wasmshark's own source with its syscall hooks as tp_btf instead of raw_tp
 * (arguments read straight from the BTF-typed pt_regs, not via bpf_probe_read).
 */
function buildExplain(tools, dir, clang, include) {
  const floor = path.join(BENCH, 'floor.bpf.c');
  tools['floor-lookup'] = path.join(dir, 'floor-lookup.bpf.o');
  execFileSync(clang, [...bpfFlags(include), '-DFLOOR_WASMSHARK', '-DFLOOR_LOOKUP', '-c', floor, '-o', tools['floor-lookup']]);
  tools['floor-exittp'] = path.join(dir, 'floor-exittp.bpf.o');
  execFileSync(clang, [...bpfFlags(include), '-DFLOOR_WASMSHARK', '-DFLOOR_EXIT_TP', '-c', floor, '-o', tools['floor-exittp']]);
  tools['floor-bitmap'] = path.join(dir, 'floor-bitmap.bpf.o');
  execFileSync(clang, [...bpfFlags(include), '-DFLOOR_WASMSHARK', '-DFLOOR_LOOKUP', '-DFLOOR_BITMAP', '-c', floor, '-o', tools['floor-bitmap']]);
  try {
    const src = path.join(dir, 'tpbtf');
    fs.mkdirSync(src);
    for (const f of fs.readdirSync(path.join(ROOT, 'bpf'))) if (f.endsWith('.h')) fs.copyFileSync(path.join(ROOT, 'bpf', f), path.join(src, f));
    let text = fs.readFileSync(path.join(ROOT, 'bpf', 'wasmshark.bpf.c'), 'utf8');
    const before = text;
    text = text
      .replace(/SEC\("raw_tp\/(sys_enter|sys_exit)"\)/g, 'SEC("tp_btf/$1")')
      .replace(/BPF_CORE_READ\(regs, (\w+)\)/g, '(regs)->$1')
      .replace(/BPF_CORE_READ\(\(struct task_struct \*\)bpf_get_current_task\(\), thread_info\.status\)/g, 'bpf_get_current_task_btf()->thread_info.status');
    if (text === before || /raw_tp\/sys_/.test(text)) throw new Error('bpf/wasmshark.bpf.c no longer has the raw_tp hooks this rewrites');
    fs.writeFileSync(path.join(src, 'wasmshark.bpf.c'), text);
    tools['ws-tpbtf'] = path.join(dir, 'wasmshark-tpbtf.bpf.o');
    execFileSync(clang, [...bpfFlags(include), '-c', path.join(src, 'wasmshark.bpf.c'), '-o', tools['ws-tpbtf']], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    tools['ws-tpbtf'] = null;
    console.error(`bench: --explain: no tp_btf variant of wasmshark's object (${String(err.message).split('\n')[0]})`);
  }
}

function build(dir) {
  const cc = which('cc') ?? which('gcc');
  if (!cc) throw new Error('needs a C compiler (cc) for its load generators');
  const tools = {
    trigger: path.join(dir, 'trigger'),
    paced: path.join(dir, 'paced'),
  };
  execFileSync(cc, ['-O2', '-pthread', path.join(ROOT, 'test', 'fixtures', 'trigger.c'), '-o', tools.trigger]);
  execFileSync(cc, ['-O2', path.join(BENCH, 'paced.c'), '-o', tools.paced]);

  const clang = which('clang-14') ?? which('clang');
  const include = path.join(ROOT, 'deps', 'include');
  const libs = [path.join(ROOT, 'deps', 'lib', 'libbpf.a'), path.join(ROOT, 'deps', 'lib', 'libelf.a')];
  tools.floorError = null;
  if (!clang) tools.floorError = 'no clang: the floor is not measured';
  else if (!libs.every((l) => fs.existsSync(l))) tools.floorError = 'no deps/lib/libbpf.a (scripts/build-deps.sh): the floor is not measured';
  if (!tools.floorError) {
    tools.loader = path.join(dir, 'loader');
    execFileSync(cc, ['-O2', `-I${include}`, path.join(BENCH, 'loader.c'), ...libs, '-lz', '-o', tools.loader]);
    for (const which of ['wasmshark', 'bpftrace']) {
      const out = path.join(dir, `floor-${which}.bpf.o`);
      execFileSync(clang, [...bpfFlags(include), `-DFLOOR_${which.toUpperCase()}`, '-c', path.join(BENCH, 'floor.bpf.c'), '-o', out]);
      tools[`floor-${which}`] = out;
    }
    if (OPT.explain) buildExplain(tools, dir, clang, include);
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
 * Every monitor configuration: start(target, idle) attaches and resolves
 * once it is live (following `target`); stop() detaches and resolves once
 * everything is detached.
 */
function monitorConfigs(tools) {
  const loaderConfig = (name, label, object, args = () => []) => ({
    name,
    label,
    start: async (target, idle) => {
      const p = new Proc(tools.loader, [object, ...args(target, idle)]);
      await p.waitLine(/^ready/);
      return { pids: [p.pid], stop: () => p.stop() };
    },
  });
  const configs = [
    { name: 'unmonitored', label: 'unmonitored', start: async () => null },
  ];
  if (tools.loader) configs.push(loaderConfig('floor-wasmshark', 'floor: empty programs on wasmshark\'s hooks', tools['floor-wasmshark']));
  configs.push({
    name: 'wasmshark',
    label: 'wasmshark, library monitor()',
    start: async (target) => {
      const p = new Proc(process.execPath, [AGENT, 'monitor', String(target)]);
      await p.waitLine(/^ready /);
      return { pids: [p.pid], stop: () => p.stop() };
    },
  });
  configs.push({
    name: 'wasmshark-probes',
    label: 'wasmshark, startProbes() only',
    start: async (target, idle) => {
      const p = new Proc(process.execPath, [AGENT, 'probes', String(target), String(idle)]);
      await p.waitLine(/^ready /);
      return { pids: [p.pid], stop: () => p.stop() };
    },
  });
  if (tools.loader && OPT.explain) {
    // wasmshark's own object through the bench's loader, settings switched off one by one
    const object = path.join(ROOT, 'bpf', 'wasmshark.bpf.o');
    const follow = (target, idle) => ['--target', String(target), ...(target === idle ? [] : ['--target', String(idle)])];
    configs.push(loaderConfig('explain-lookup', 'explain: floor + targets lookup (the bystander path)', tools['floor-lookup'], follow));
    configs.push(loaderConfig('explain-bitmap', 'explain: floor + bitmap prefilter, then targets lookup', tools['floor-bitmap'], follow));
    configs.push(loaderConfig('explain-exittp', 'explain: floor with the 7 needed sys_exit_* tracepoints instead of raw sys_exit', tools['floor-exittp']));
    configs.push(loaderConfig('explain-object', 'explain: wasmshark.bpf.o as the library loads it', object, (t, i) => ['count_syscalls=1', ...follow(t, i)]));
    configs.push(loaderConfig('explain-nocount', 'explain: wasmshark.bpf.o, syscall counting off', object, (t, i) => ['count_syscalls=0', ...follow(t, i)]));
    configs.push(loaderConfig('explain-nosites', 'explain: wasmshark.bpf.o, counting and call-site check off', object,
      (t, i) => ['count_syscalls=0', 'check_syscall_sites=0', ...follow(t, i)]));
    if (tools['ws-tpbtf']) {
      configs.push(loaderConfig('explain-tpbtf', 'explain: wasmshark.bpf.c with tp_btf syscall hooks', tools['ws-tpbtf'], (t, i) => ['count_syscalls=1', ...follow(t, i)]));
    }
  }
  if (tools.loader) configs.push(loaderConfig('floor-bpftrace', 'floor: empty programs on bpftrace\'s four tracepoints', tools['floor-bpftrace']));
  if (tools.bpftrace) {
    configs.push({
      name: 'bpftrace',
      label: 'bpftrace, the seed\'s four probes',
      start: async (target) => {
        const p = startBpftrace(tools, target);
        await p.waitLine(/^ready$/);
        return { pids: [p.pid], stop: () => p.stop('SIGINT') };
      },
    });
  }
  return configs;
}

/** Syscall hooks attached by processes other than ours (someone else's test run), as "comm(pid)". */
function foreignSyscallHooks(ours) {
  let entries;
  try {
    entries = JSON.parse(execFileSync('bpftool', ['perf', 'show', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString() || '[]');
  } catch {
    return []; // no bpftool: cannot tell
  }
  const who = (pid) => {
    try {
      return `${fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim()}(${pid})`;
    } catch {
      return `(${pid})`;
    }
  };
  const pids = new Set(entries.filter((e) => !ours.includes(e.pid) && /^sys_(enter|exit)/.test(e.tracepoint ?? '')).map((e) => e.pid));
  return [...pids].map(who);
}

/** Budget for waiting on other people's syscall hooks to go away, for the whole run. */
let quietBudgetMs = 120000;
let quietWaitedMs = 0;

/** Waits (within the budget) until no other process has syscall hooks attached. */
async function waitQuiet() {
  const t0 = Date.now();
  while (foreignSyscallHooks([]).length > 0 && Date.now() - t0 < quietBudgetMs) await sleep(100);
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
      const floorName = /^(wasmshark|explain)/.test(cfg.name) ? 'floor-wasmshark' : cfg.name === 'bpftrace' ? 'floor-bpftrace' : null;
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

async function attachTimes() {
  const { startProbes } = require(path.join(ROOT, 'dist', 'probes.js'));
  const attach = [];
  const stop = [];
  for (let i = 0; i < OPT['attach-rounds']; i++) {
    const t0 = now();
    const probes = startProbes();
    const t1 = now();
    await probes.stop();
    attach.push(Number(t1 - t0) / 1e6);
    stop.push(msSince(t1));
  }
  return { attachMs: median(attach), stopMs: median(stop), n: attach.length };
}

async function startup(tools) {
  const idle = idleProcess();
  const s = { cli: [], monitorReady: [], monitorProcessReady: [], bpftraceAttached: [], bpftraceWhole: [], bpftraceDetach: [] };
  try {
    for (let r = 0; r < OPT['startup-rounds']; r++) {
      await waitQuiet();
      const jobs = [
        async () => {
          const p = new Proc(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--timeout', '10', '--', '/bin/true']);
          const exit = await p.exited;
          if (exit.code !== 0) throw new Error(`wasmshark CLI exited ${exit.code}: ${p.stderr}`);
          s.cli.push(exit.ms);
        },
        async () => {
          const p = new Proc(process.execPath, [AGENT, 'monitor', String(idle.pid)]);
          const ready = await p.waitLine(/^ready /);
          s.monitorProcessReady.push(ready.ms);
          await p.stop();
          const info = p.json('ready');
          if (!info.bpf) throw new Error(`monitor() did not use eBPF: ${info.bpfError}`);
          s.monitorReady.push(info.readyMs);
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
  }
  const m = (xs) => (xs.length ? median(xs) : null);
  return {
    rounds: OPT['startup-rounds'],
    cliTrueMs: m(s.cli),
    monitorReadyMs: m(s.monitorReady),
    monitorProcessReadyMs: m(s.monitorProcessReady),
    bpftraceAttachedMs: m(s.bpftraceAttached),
    bpftraceDetachMs: m(s.bpftraceDetach),
    bpftraceWholeMs: m(s.bpftraceWhole),
    samples: s,
  };
}

// ---- 4 + 5: throughput, loss, latency ----

/** Runs a --wait load generator under an agent job; returns the agent's result and the generator's run time. */
async function underAgent(tools, agentArgs, genCmd, genArgs) {
  await waitQuiet();
  const gen = new Proc(genCmd, ['--wait', ...genArgs]);
  await parkedInRead(gen.pid);
  const agent = new Proc(process.execPath, [AGENT, ...agentArgs(gen.pid)]);
  await agent.waitLine(/^ready /);
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

function throughputRow(name, label, runs, expected) {
  const r = runs.map((x) => x.result);
  const delivered = r.map((x) => x.delivered);
  return {
    config: name,
    label,
    runs: runs.length,
    expected,
    delivered: median(delivered),
    drops: median(r.map((x) => x.drops.total)),
    lost: median(r.map((x) => expected - x.delivered - x.drops.total)),
    targetRunMs: median(runs.map((x) => x.genMs)),
    eventsPerSec: median(r.map((x) => (x.wxSpanMs > 0 ? (x.delivered / x.wxSpanMs) * 1000 : 0))),
    monitorCpuMs: median(r.map((x) => x.cpuMs)),
    peakRssMb: Math.max(...r.map((x) => x.maxRssMb ?? 0)),
    eventLatency: r[0].eventLatency ?? null,
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
    throughputRow('wasmshark', 'wasmshark, library monitor()', runs.wasmshark, OPT.burst),
    throughputRow('wasmshark-probes', 'wasmshark, startProbes() only', runs['wasmshark-probes'], OPT.burst),
  ];
  if (runs.bpftrace.length) rows.push(throughputRow('bpftrace', 'bpftrace, the seed\'s four probes', runs.bpftrace, OPT.burst));
  return { events: OPT.burst, rows };
}

async function sustained(tools) {
  const genArgs = ['rate', String(OPT.rate), String(OPT['rate-secs'])];
  const rows = [];
  const emitted = (run) => Number(run.genOut.split(' ')[0]);
  const one = async (name, label, fn) => {
    const run = await fn();
    const row = throughputRow(name, label, [run], emitted(run));
    row.achievedRate = Math.round(emitted(run) / (run.genMs / 1000));
    row.cpuPercent = (row.monitorCpuMs / run.genMs) * 100;
    rows.push(row);
  };
  await one('wasmshark', 'wasmshark, library monitor()', () => underAgent(tools, (pid) => ['monitor', String(pid), '--latency'], tools.paced, genArgs));
  await one('wasmshark-probes', 'wasmshark, startProbes() only', () => underAgent(tools, (pid) => ['probes', String(pid), '--latency'], tools.paced, genArgs));
  if (tools.bpftrace) {
    await one('bpftrace', 'bpftrace, the seed\'s four probes', () => underBpftrace(tools, tools.paced, genArgs));
  }
  return { rate: OPT.rate, seconds: OPT['rate-secs'], rows };
}

async function latency(tools) {
  const n = OPT['latency-procs'];
  const { result, genMs } = await underAgent(tools, (pid) => ['monitor', String(pid), '--latency'], tools.paced, ['procs', String(n), '10000', '10']);
  return { processes: n, mmapsPerProcess: 10, genMs, event: result.eventLatency, alert: result.alertLatency, delivered: result.delivered, drops: result.drops.total };
}

// ---- 6: idle CPU ----

async function idleCpu(tools) {
  const idlers = [0, 1, 2].map(() => idleProcess());
  try {
    const bpf = new Proc(process.execPath, [AGENT, 'monitor', String(idlers[0].pid)]);
    const proc = new Proc(process.execPath, [AGENT, 'monitor', String(idlers[1].pid), '--no-bpf']);
    const bt = tools.bpftrace ? startBpftrace(tools, idlers[2].pid) : null;
    await Promise.all([bpf.waitLine(/^ready /), proc.waitLine(/^ready /), bt?.waitLine(/^ready$/)]);
    const bt0 = bt ? procUsage(bt.pid) : null;
    const t0 = now();
    await sleep(OPT['idle-secs'] * 1000);
    const btCpu = bt ? (procUsage(bt.pid).cpuMs - bt0.cpuMs) / msSince(t0) : null;
    await Promise.all([bpf.stop(), proc.stop(), bt?.stop('SIGINT')]);
    const b = bpf.json('result');
    const p = proc.json('result');
    return {
      seconds: OPT['idle-secs'],
      bpfCpuPercent: b.cpuPercent,
      procCpuPercent: p.cpuPercent,
      bpftraceCpuPercent: btCpu === null ? null : btCpu * 100,
      bpfRssMb: b.maxRssMb,
      procRssMb: p.maxRssMb,
    };
  } finally {
    for (const p of idlers) p.kill();
  }
}

// ---- report ----

const f0 = (x) => (x === null || x === undefined ? '–' : Math.round(x).toLocaleString('en'));
const f1 = (x) => (x === null || x === undefined ? '–' : x.toFixed(1));
const f3 = (x) => (x === null || x === undefined ? '–' : x.toFixed(3));

function goals(r) {
  const row = (config, role) => r.hookCost.results.find((x) => x.config === config && x.role === role);
  const out = [];
  const goal = (name, met, measured) => out.push({ goal: name, met, measured });
  for (const [role, limit] of r.hookCost ? [['target', 1.03], ['bystander', 1.02]] : []) {
    const ws = row('wasmshark', role);
    const bt = row('bpftrace', role);
    // judged on the loop's CPU time: wall time also counts the time it spent preempted by whatever else runs
    if (ws.cpuRatioToFloor !== null) {
      goal(`${role} overhead ≤ floor × ${limit}`, ws.cpuRatioToFloor <= limit,
        `monitor() CPU time ×${f3(ws.cpuRatioToFloor)} of its floor (×${f3(ws.cpuRatio)} of unmonitored); wall time ×${f3(ws.ratioToFloor)} of its floor`);
    }
    if (bt) {
      goal(`${role} overhead no worse than bpftrace's`, ws.cpuRatio <= bt.cpuRatio,
        `CPU time: monitor() ×${f3(ws.cpuRatio)} vs bpftrace ×${f3(bt.cpuRatio)} of unmonitored` +
        (ws.cpuRatioToFloor !== null && bt.cpuRatioToFloor !== null ? `, each over its own floor ×${f3(ws.cpuRatioToFloor)} vs ×${f3(bt.cpuRatioToFloor)}` : '') +
        `; wall time ×${f3(ws.ratio)} vs ×${f3(bt.ratio)}`);
    }
  }
  if (r.startup) {
    goal('CLI start-up to report for /bin/true ≤ 0.3 s', r.startup.cliTrueMs <= 300, `${f0(r.startup.cliTrueMs)} ms (median of ${r.startup.rounds})`);
  }
  if (r.sustained) {
    const sw = r.sustained.rows.find((x) => x.config === 'wasmshark');
    goal(`zero drops at ${r.sustained.rate.toLocaleString('en')} events/s sustained`, sw.drops === 0 && sw.lost === 0,
      `${sw.drops} dropped, ${sw.lost} lost, ${sw.delivered.toLocaleString('en')} delivered of ${sw.expected.toLocaleString('en')} (${sw.achievedRate.toLocaleString('en')}/s)`);
  }
  if (r.latency) {
    goal('alert latency p99 ≤ 50 ms', r.latency.alert.p99Ms !== null && r.latency.alert.p99Ms <= 50,
      `alert p99 ${r.latency.alert.p99Ms} ms (p50 ${r.latency.alert.p50Ms}, n=${r.latency.alert.n}); event p99 ${r.latency.event.p99Ms} ms`);
  }
  if (r.burst) {
    const bw = r.burst.rows.find((x) => x.config === 'wasmshark');
    goal('monitor peak RSS ≤ 120 MB in the burst', bw.peakRssMb <= 120, `${bw.peakRssMb} MB (monitor()); startProbes() only: ${r.burst.rows[1].peakRssMb} MB`);
  }
  if (r.idle) {
    goal('idle CPU ≤ 1%', r.idle.bpfCpuPercent <= 1, `${r.idle.bpfCpuPercent.toFixed(2)}% (eBPF monitor watching an idle process)`);
    goal('idle CPU ≤ 1%, /proc fallback', r.idle.procCpuPercent <= 1, `${r.idle.procCpuPercent.toFixed(2)}% (monitor(pid, { bpf: false }), default intervals)`);
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
  L.push(`Run ${r.when} on ${m.cpu} (${m.cpus} CPUs, ${m.memGb} GB), Linux ${m.kernel}, Node ${m.node}, ${m.bpftrace ?? 'no bpftrace'}. ` +
    `Load average at start ${m.loadavg}.`, '');
  if (r.hookCost) hookTable(r, L, table);
  if (r.startup) startupTable(r, L, table);
  if (r.burst || r.sustained) throughputTables(r, L, table);
  if (r.latency) latencyTable(r, L, table);
  if (r.idle) idleTable(r, L, table);
  L.push('**Goals**', '');
  table(['goal', 'met', 'measured'], r.goals.map((g) => [g.goal, g.met ? 'met' : '**not met**', g.measured]));
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
    ['`wasmshark --timeout 10 -- /bin/true`: launch to report, whole command', `${f0(s.cliTrueMs)} ms`],
    ['library `monitor(pid)` to `ready` (fresh process: first addon load included)', `${f1(s.monitorReadyMs)} ms`],
    ['node process start + require + `monitor()` to `ready`', `${f0(s.monitorProcessReadyMs)} ms`],
    [`\`startProbes()\` load + attach / \`stop()\` (in-process, median of ${r.attach.n})`, `${f1(r.attach.attachMs)} ms / ${f1(r.attach.stopMs)} ms`],
  ];
  if (s.bpftraceAttachedMs !== null) {
    st.push(['bpftrace, seed\'s four probes: launch to probes attached', `${f0(s.bpftraceAttachedMs)} ms`]);
    st.push(['bpftrace: SIGINT to exit (detach)', `${f0(s.bpftraceDetachMs)} ms`]);
    st.push(['bpftrace with `BEGIN { exit() }`: whole command', `${f0(s.bpftraceWholeMs)} ms`]);
  }
  table(['measure', 'value'], st);
}

function throughputTables(r, L, table) {
  if (r.burst) {
    L.push(`**4. Throughput and loss.** Burst: \`trigger wx ${r.burst.events}\` (W+X mmap+munmap at full speed), median of ${r.burst.rows[0].runs}. ` +
    `Events/s: first W+X syscall in the kernel to the last event delivered. CPU and peak RSS: the monitoring process.`, '');
  table(['burst', 'delivered', 'dropped (counted)', 'lost', 'target run', 'events/s delivered', 'monitor CPU', 'peak RSS'],
    r.burst.rows.map((x) => [x.label, f0(x.delivered), f0(x.drops), f0(x.lost), `${f0(x.targetRunMs)} ms`, f0(x.eventsPerSec), `${f0(x.monitorCpuMs)} ms`, `${x.peakRssMb} MB`]));
  }
  if (!r.sustained) return;
  L.push(`Sustained: \`paced rate ${r.sustained.rate} ${r.sustained.seconds}\` (W+X mmap+munmap paced at ${r.sustained.rate.toLocaleString('en')}/s for ${r.sustained.seconds} s).`, '');
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
    ['`monitor(pid)` with eBPF', `${id.bpfCpuPercent.toFixed(2)}%`, `${id.bpfRssMb} MB`],
    ['`monitor(pid, { bpf: false })`: /proc fallback, default intervals', `${id.procCpuPercent.toFixed(2)}%`, `${id.procRssMb} MB`],
  ];
  if (id.bpftraceCpuPercent !== null) idleRows.push(['bpftrace, the seed\'s four probes', `${id.bpftraceCpuPercent.toFixed(2)}%`, '']);
  table(['monitor', 'CPU', 'peak RSS'], idleRows);
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
    const tools = build(dir);
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
    };
    const configs = monitorConfigs(tools);
    const run = async (name, title, fn) => {
      if (!OPT.only.includes(name)) return null;
      process.stderr.write(`bench: ${title} (${Math.round((Date.now() - started) / 1000)} s)\n`);
      return fn();
    };
    const hooks = await run('cost', '1+2 cost on the monitored process and on a bystander', () => hookCost(tools, configs));
    const attach = await run('startup', '3 start-up', () => attachTimes());
    const start = await run('startup', '3 start-up, interleaved', () => startup(tools));
    const b = await run('burst', '4 burst', () => burst(tools));
    const sus = await run('sustained', '4 sustained rate', () => sustained(tools));
    const lat = await run('latency', '5 latency', () => latency(tools));
    const idle = await run('idle', '6 idle CPU', () => idleCpu(tools));
    const result = {
      when: new Date().toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      options: OPT,
      machine,
      notes: tools.floorError ? [tools.floorError] : [],
      hookCost: hooks,
      attach,
      startup: start,
      burst: b,
      sustained: sus,
      latency: lat,
      idle,
    };
    result.goals = goals(result);
    const md = markdown(result) + `\nWhole run: ${result.durationS} s.\n`;
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
  console.error(`bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
