#!/usr/bin/env node
/*
 * What the open hooks cost a process nobody follows. An open/close loop
 * (test/fixtures/trigger.c `opens`) reports its CPU time per iteration with
 * no probes, with wasmshark's object built without the open hooks, and with
 * the object as shipped; lean and exact hooks each. Runs are interleaved
 * round by round, so a busy machine slows every configuration alike; the
 * medians are compared.
 *
 *   sudo node scripts/open-cost.js [--rounds N] [--opens N]
 *
 * Needs root, `npm run build`, cc and clang. The variant without the open
 * hooks is bpf/wasmshark.bpf.c with its LEAN_EXIT(open...) lines and the
 * opens' case in on_return taken out; a third has the hooks but returns at
 * once from them (what attaching the tracepoints costs, whatever runs on
 * them). All load through the project's own addon, with an idle process in
 * the target set, as a monitor would have. The machine may be shared: a sample taken while another
 * process had syscall hooks attached (`bpftool perf show`) is taken again,
 * after waiting (two minutes at most over the whole run) for them to go.
 */
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const { loadAddon, BPF_OBJECT_PATH } = require(path.join(ROOT, 'dist', 'native.js'));
const { readStat } = require(path.join(ROOT, 'dist', 'proc', 'stat.js'));

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`open-cost: ${name} expects a positive integer`);
    process.exit(2);
  }
  return n;
}
const ROUNDS = option('--rounds', 7);
const OPENS = option('--opens', 300000);
const FILE = '/etc/hostname';

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd);
    if (dir && fs.existsSync(p)) return p;
  }
  return null;
}

/** The shipped source rewritten by `edit` (which must change it), built into dir/NAME.bpf.o. */
function variant(dir, name, edit) {
  const src = path.join(dir, name);
  fs.mkdirSync(src);
  for (const f of fs.readdirSync(path.join(ROOT, 'bpf'))) if (f.endsWith('.h')) fs.copyFileSync(path.join(ROOT, 'bpf', f), path.join(src, f));
  fs.writeFileSync(path.join(src, 'wasmshark.bpf.c'), edit(fs.readFileSync(path.join(ROOT, 'bpf', 'wasmshark.bpf.c'), 'utf8')));
  const out = path.join(dir, `${name}.bpf.o`);
  const clang = which('clang-14') ?? which('clang');
  if (!clang) throw new Error('needs clang to build the variants of the BPF object');
  execFileSync(clang, ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I/usr/include/${os.arch() === 'x64' ? 'x86_64' : os.arch()}-linux-gnu`, `-I${src}`, '-c', path.join(src, 'wasmshark.bpf.c'), '-o', out]);
  return out;
}

const LEAN_OPENS = /^LEAN_EXIT\((?:open|openat|openat2|creat|open_by_handle_at)\)\n/gm;
const EXACT_OPENS = /\tswitch \(nr\) \{\n(?:\tcase NR_\w+:\n)+\t\treturn exit_open\(nr, ret\);\n\t\}\n/;

function checked(source) {
  if ((source.match(LEAN_OPENS) ?? []).length !== 5 || !EXACT_OPENS.test(source)) {
    throw new Error('bpf/wasmshark.bpf.c no longer has the open hooks this takes out');
  }
  return source;
}

/** Without the open hooks: no exit tracepoints for them, no case for them in the exact hook. */
const withoutOpens = (dir) => variant(dir, 'without-opens', (s) => checked(s).replace(LEAN_OPENS, '').replace(EXACT_OPENS, ''));

/** The open hooks attached, returning at once: the floor of attaching them. */
const emptyOpens = (dir) => variant(dir, 'empty-opens', (s) => checked(s).replace('\t\treturn exit_open(nr, ret);', '\t\treturn 0;'));

function run(file, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(file)} ${args.join(' ')} exited ${code}`))));
  });
}

/** Processes other than this one with BPF programs on tracepoints (another monitor, a test run). */
function foreignHooks() {
  try {
    const list = JSON.parse(execFileSync('bpftool', ['perf', 'show', '-j'], { encoding: 'utf8' }) || '[]');
    return new Set(list.filter((p) => p.pid !== process.pid).map((p) => p.pid)).size;
  } catch {
    return 0; // no bpftool: cannot tell
  }
}

let waitBudgetMs = 120000;
let redone = 0;

async function quiet() {
  while (foreignHooks() > 0 && waitBudgetMs > 0) {
    await new Promise((r) => setTimeout(r, 500));
    waitBudgetMs -= 500;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  if (process.getuid() !== 0) {
    console.error('open-cost: needs root to load BPF programs (sudo node scripts/open-cost.js)');
    process.exit(1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-open-cost-'));
  const idle = [];
  try {
    const trigger = path.join(dir, 'trigger');
    execFileSync(which('cc') ?? 'gcc', ['-O2', '-pthread', path.join(ROOT, 'test', 'fixtures', 'trigger.c'), '-o', trigger]);
    const without = withoutOpens(dir);
    const empty = emptyOpens(dir);
    const { Session } = loadAddon();
    const configs = [{ name: 'none', label: 'no probes' }];
    for (const syscalls of ['lean', 'exact']) {
      configs.push({ name: `${syscalls}-without`, label: `${syscalls} hooks, without the open hooks`, object: without, syscalls });
      if (syscalls === 'lean') configs.push({ name: 'lean-empty', label: 'lean hooks, the open hooks returning at once', object: empty, syscalls });
      configs.push({ name: `${syscalls}-with`, label: `${syscalls} hooks, with the open hooks (as shipped)`, object: BPF_OBJECT_PATH, syscalls });
    }
    const samples = Object.fromEntries(configs.map((c) => [c.name, []]));
    // an idle target: a bystander's lookup looks in a map that is in use, as under a monitor
    const target = spawn(trigger, ['sleep', '600000'], { stdio: 'ignore' });
    idle.push(target);
    await new Promise((r) => setTimeout(r, 50));
    const targetTicks = readStat(target.pid).startTicks;
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of configs) {
        let session = null;
        if (c.object) {
          session = new Session({ objectPath: c.object, syscalls: c.syscalls, countSyscalls: false, followChildren: true });
          session.start(() => {}, () => {});
          session.addTarget(target.pid, targetTicks);
          if (session.hooks().syscalls !== c.syscalls) throw new Error(`asked for ${c.syscalls} hooks, got ${session.hooks().syscalls}`);
        }
        try {
          for (let attempt = 0; ; attempt++) {
            await quiet();
            const ns = Number(await run(trigger, ['opens', FILE, String(OPENS)]));
            if (foreignHooks() === 0 || waitBudgetMs <= 0 || attempt === 5) {
              samples[c.name].push(ns);
              break;
            }
            redone++;
          }
        } finally {
          if (session) await session.stop();
        }
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${configs.map((c) => `${c.name} ${samples[c.name].at(-1)}`).join(', ')}\n`);
    }
    // ratios within a round, then their median: drift between rounds cancels out
    const ratio = (a, b) => median(samples[a].map((x, i) => x / samples[b][i]));
    const rows = configs.map((c) => {
      const m = median(samples[c.name]);
      const without = `${c.object === undefined ? '' : c.syscalls}-without`;
      const pair = samples[without] && c.name !== without ? `×${ratio(c.name, without).toFixed(3)} (${(m - median(samples[without])).toFixed(0)} ns)` : '';
      return `| ${c.label} | ${m.toFixed(0)} | ×${ratio(c.name, 'none').toFixed(3)} | ${pair} |`;
    });
    console.log(`open+close of ${FILE} by a process nobody follows, ${OPENS} per run, ${ROUNDS} interleaved rounds;`);
    console.log('CPU ns per iteration (median), ratios are medians of the ratios within each round\n');
    console.log('| configuration | ns/iteration | vs no probes | with vs without the open hooks |');
    console.log('|---|---|---|---|');
    console.log(rows.join('\n'));
    console.log(`\nsamples: ${JSON.stringify(samples)}`);
    console.log(`redone while another process had syscall hooks attached: ${redone}${waitBudgetMs <= 0 ? ' (stopped waiting: some samples ran beside them)' : ''}`);
  } finally {
    for (const p of idle) p.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`open-cost: ${err.message}`);
  process.exit(1);
});
