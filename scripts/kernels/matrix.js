#!/usr/bin/env node
/**
 * The kernel matrix: the shipped BPF objects loaded by the addon's own loader
 * (test/kernels/probe-check.cc, linked statically) on Debian's stock kernels
 * booted in qemu, and on this machine's own kernel: the default choice
 * (trampolines where the kernel allows them, else the syscall tracepoints),
 * the tracepoint backend forced, and exact hooks, with real processes acting
 * in each (W+X mmap, RW->RX mprotect, exec of a child, connect, memfd exec,
 * code in a memfd, a shellcode syscall, a sensitive open, int 0x80 where the
 * kernel runs it, a bystander).
 *
 *   sudo npm run test:kernels                       every kernel, a table on stdout
 *   sudo npm run test:kernels -- --kernels 6.1      some of them ("host" is this machine)
 *   sudo npm run test:kernels -- --json FILE        also the results as JSON
 *   sudo npm run test:kernels -- --readme           rewrite README's "Supported kernels" table
 *   sudo npm run test:kernels -- --bench            instead of the checks, the cost of each backend
 *                                                   (probe-check --bench; --rounds N, --iterations N, --repeat N)
 *   npm run test:kernels -- --table FILE            the table of a run saved with --json, again
 *
 * Needs root, the static libbpf/libelf in deps/ (scripts/setup.sh) and
 * qemu-system-x86, busybox-static and cpio (setup.sh installs them).
 * Exits non-zero when a kernel does not boot or a check fails where the
 * probes loaded; what a kernel cannot load is a row of the table, not a crash.
 */
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const VM_KERNELS = ['5.10', '6.1', '6.12'];
const DEBIAN = { '5.10': 'Debian 11 (bullseye)', '6.1': 'Debian 12 (bookworm)', '6.12': 'Debian 13 (trixie)' };
const MODES = ['trampoline', 'lean', 'exact'];
const README_BEGIN = '<!-- kernels:begin (scripts/kernels/matrix.js --readme) -->';
const README_END = '<!-- kernels:end -->';

function fail(message) {
  process.stderr.write(`test:kernels: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { kernels: ['host', ...VM_KERNELS], json: null, readme: false, bench: false, rounds: 7, iterations: 30000, repeat: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kernels' && argv[i + 1]) args.kernels = argv[++i].split(',');
    else if (a === '--bench') args.bench = true;
    else if (a === '--table' && argv[i + 1]) args.table = argv[++i];
    else if (a === '--rounds' && argv[i + 1]) args.rounds = Number(argv[++i]);
    else if (a === '--iterations' && argv[i + 1]) args.iterations = Number(argv[++i]);
    else if (a === '--repeat' && argv[i + 1]) args.repeat = Number(argv[++i]);
    else if (a === '--json' && argv[i + 1]) args.json = argv[++i];
    else if (a === '--readme') args.readme = true;
    else fail(`unknown option ${a} (use --kernels host,5.10,6.1,6.12 --json FILE --readme --bench [--rounds N --iterations N --repeat N] --table FILE)`);
  }
  for (const k of args.kernels) if (k !== 'host' && !VM_KERNELS.includes(k)) fail(`unknown kernel ${k}: one of host, ${VM_KERNELS.join(', ')}`);
  return args;
}

/** The payload every kernel runs: the checker, the trigger (both static), the objects and the script. */
function buildPayload(dir, args) {
  const lib = path.join(ROOT, 'deps', 'lib');
  if (!fs.existsSync(path.join(lib, 'libbpf.a'))) fail('deps/lib/libbpf.a is missing: run scripts/setup.sh (or scripts/build-deps.sh)');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const libz = execFileSync('cc', ['-print-file-name=libz.a'], { encoding: 'utf8' }).trim();
  // glibc warns that getaddrinfo and dlopen need its shared libraries when static: neither runs in a check
  const quiet = { stdio: ['ignore', 'ignore', 'pipe'] };
  execFileSync('g++', [
    '-static', '-O2', '-std=c++17', '-Wall', '-I', path.join(ROOT, 'deps', 'include'),
    path.join(ROOT, 'test', 'kernels', 'probe-check.cc'), path.join(ROOT, 'native', 'bpf_session.cc'),
    path.join(lib, 'libbpf.a'), path.join(lib, 'libelf.a'), libz, '-pthread', '-o', path.join(dir, 'probe-check'),
  ], quiet);
  execFileSync('cc', ['-static', '-O2', '-pthread', path.join(ROOT, 'test', 'fixtures', 'trigger.c'), '-o', path.join(dir, 'trigger')], quiet);
  for (const o of ['wasmshark.bpf.o', 'wasmshark.legacy.bpf.o']) fs.copyFileSync(path.join(ROOT, 'bpf', o), path.join(dir, o));
  if (args.bench) {
    // the floor: empty programs on bpftrace's four syscall tracepoints (bench/floor.bpf.c)
    const clang = fs.existsSync('/usr/bin/clang-14') ? 'clang-14' : 'clang';
    execFileSync(clang, [
      '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-DFLOOR_BPFTRACE', '-I/usr/include/x86_64-linux-gnu', '-I', path.join(ROOT, 'deps', 'include'),
      '-c', path.join(ROOT, 'bench', 'floor.bpf.c'), '-o', path.join(dir, 'floor-bpftrace.bpf.o'),
    ]);
  }
  const run = args.bench
    ? `./probe-check --objects . --trigger ./trigger --bench --rounds ${args.rounds} --iterations ${args.iterations} --repeat ${args.repeat}`
    : `for mode in ${MODES.join(' ')}; do ./probe-check --objects . --trigger ./trigger --mode $mode; done`;
  fs.writeFileSync(
    path.join(dir, 'checks.sh'),
    [
      '#!/bin/sh',
      '# in the VM: loopback up for the connect check, a file by a sensitive name for the open check',
      'ip link set lo up 2>/dev/null',
      '[ -e /etc/shadow ] || echo "root:*:0:0:99999:7:::" > /etc/shadow',
      run,
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

/** JSON lines from probe-check, grouped by the session each follows. */
function parseChecks(text) {
  const sessions = {};
  let current = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a line cut by a VM that died: the missing cases say so
    }
    if (e.event === 'session') {
      current = { ...e, programs: [], cases: [], drops: null };
      sessions[e.asked] = current;
    } else if (e.event === 'bench' || e.event === 'bench-median') {
      sessions.bench ??= { asked: 'bench', rounds: [], medians: [] };
      sessions.bench[e.event === 'bench' ? 'rounds' : 'medians'].push(e);
    } else if (current && e.event === 'program') current.programs.push(e);
    else if (current && e.event === 'case') current.cases.push(e);
    else if (current && e.event === 'end') {
      current.drops = e.drops;
      if (e.links !== undefined) current.handOff = { links: e.links, handoffMs: e.handoff_ms, releasedMs: e.released_ms, left: e.links_left };
    }
  }
  return sessions;
}

function runHost(payload) {
  const started = Date.now();
  const r = spawnSync('sh', ['./checks.sh'], { cwd: payload, encoding: 'utf8', timeout: 600000 });
  return { label: 'host', release: os.release(), booted: true, bootS: 0, totalS: (Date.now() - started) / 1000, sessions: parseChecks(r.stdout ?? ''), error: r.error?.message ?? null };
}

function runVms(labels, payload, out, timeoutS) {
  if (labels.length === 0) return [];
  const r = spawnSync(path.join(__dirname, 'run.sh'), ['--kernels', labels.join(','), '--timeout', String(timeoutS), '--out', out, payload, '--', 'sh', './checks.sh'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: labels.length * (timeoutS + 60) * 1000,
  });
  const summary = (r.stdout ?? '').split('\n');
  return labels.map((label) => {
    // "<label> <release> boot=<s> total=<s> exit=<code> <ok|FAIL reason>"
    const line = summary.findLast((l) => l.split(/\s+/)[0] === label) ?? ''; // a kernel booted twice: its last line
    const m = /^(\S+)\s+(\S+)\s+boot=([\d.]+)s\s+total=([\d.]+)s\s+exit=(\S+)\s+(.*)$/.exec(line.trim());
    const outFile = path.join(out, `${label}.out`);
    return {
      label,
      release: m ? m[2] : null,
      booted: m !== null && m[6] === 'ok',
      bootS: m ? Number(m[3]) : null,
      totalS: m ? Number(m[4]) : null,
      sessions: fs.existsSync(outFile) ? parseChecks(fs.readFileSync(outFile, 'utf8')) : {},
      error: m && m[6] === 'ok' ? null : line || `run.sh gave no line for ${label} (exit ${r.status})`,
    };
  });
}

/** What a run failed at, where it loaded: cases that ran and did not see what they should. */
function failures(row) {
  const out = [];
  if (!row.booted) out.push(`${row.label}: ${row.error}`);
  for (const [mode, s] of Object.entries(row.sessions)) {
    if (mode === 'bench' || !s.loaded) continue;
    if (s.handOff && s.handOff.left > 0) out.push(`${row.label} ${mode}: ${s.handOff.left} of ${s.handOff.links} links still held after the hand-off`);
    for (const c of s.cases) if (c.ok === false) out.push(`${row.label} ${mode}: ${c.name}: ${c.why ?? 'failed'}`);
    for (const p of s.programs) if (p.stack > 448) out.push(`${row.label} ${mode}: ${p.name} uses ${p.stack} of 512 stack bytes`);
  }
  return out;
}

function maxStack(s) {
  return s.programs.reduce((m, p) => Math.max(m, p.stack), 0);
}

function describeSession(s) {
  if (!s) return 'not run';
  if (!s.loaded) return `refused: ${s.error}`;
  const ran = s.cases.filter((c) => c.ok !== null);
  const seen = ran.filter((c) => c.ok).length;
  const mode = s.mode === s.asked ? '' : ` (as ${s.mode})`;
  const sees = `sees ${seen}/${ran.length} checks; max stack ${maxStack(s)} B`;
  if (s.asked === 'trampoline') {
    if (s.backend !== 'trampoline') return `${s.backend_note || 'not chosen'}: the tracepoint backend, ${sees}`;
    const missing = s.unhooked?.length ? ` (no ${s.unhooked.join(', ')})` : '';
    return `trampolines load${missing}, ${s.object} object; ${sees}`;
  }
  return `loads${mode}, ${s.object} object; ${sees}`;
}

/** The median over rounds of a configuration's figure divided by the tracepoint backend's in the same round. */
function ratioToTracepoint(rounds, config, key) {
  const ratios = [];
  for (const r of new Set(rounds.map((x) => x.round))) {
    const a = rounds.find((x) => x.round === r && x.config === config);
    const b = rounds.find((x) => x.round === r && x.config === 'tracepoint');
    if (a && b && a[key] > 0 && b[key] > 0) ratios.push(a[key] / b[key]);
  }
  ratios.sort((x, y) => x - y);
  if (ratios.length === 0) return '—';
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
  return `×${median.toFixed(3)} [${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}]`;
}

function benchTable(rows) {
  const lines = [
    '| kernel | configuration | bystander ns/iter | ÷ tracepoint backend, same round | target ns/iter | ÷ tracepoint backend, same round | rounds |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const rounds = r.sessions.bench?.rounds ?? [];
    for (const m of r.sessions.bench?.medians ?? []) {
      const fmt = (v) => (v > 0 ? v.toFixed(0) : '—');
      lines.push(
        `| ${r.label === 'host' ? 'this machine' : r.label} ${r.release ?? ''} | ${m.config}${m.loaded && m.loaded !== m.config ? ` (${m.loaded})` : ''} | ${fmt(m.bystander_ns)} | ${ratioToTracepoint(rounds, m.config, 'bystander_ns')} | ${fmt(m.target_ns)} | ${ratioToTracepoint(rounds, m.config, 'target_ns')} | ${m.rounds} |`,
      );
    }
  }
  return lines.join('\n');
}

function table(rows) {
  const lines = ['| kernel | release | default: trampolines | tracepoint backend | `--syscalls exact` | int 0x80 | boot + checks |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const name = r.label === 'host' ? 'this machine' : `${r.label}, ${DEBIAN[r.label]}`;
    const any = r.sessions.lean ?? r.sessions.exact;
    const int80 = !any || !any.loaded ? '—' : any.ia32 ? (any.compat ? 'on, seen' : 'on, not seen') : 'off';
    const time = r.totalS === null ? '—' : r.label === 'host' ? `${r.totalS.toFixed(1)} s` : `${r.bootS.toFixed(1)} + ${(r.totalS - r.bootS).toFixed(1)} s`;
    lines.push(`| ${name} | ${r.release ?? '—'} | ${describeSession(r.sessions.trampoline)} | ${describeSession(r.sessions.lean)} | ${describeSession(r.sessions.exact)} | ${int80} | ${time} |`);
  }
  return lines.join('\n');
}

function writeReadme(rows) {
  const file = path.join(ROOT, 'README.md');
  const text = fs.readFileSync(file, 'utf8');
  const begin = text.indexOf(README_BEGIN);
  const end = text.indexOf(README_END);
  if (begin < 0 || end < begin) fail(`README.md has no ${README_BEGIN} ... ${README_END} section`);
  const when = new Date().toISOString().slice(0, 10);
  const body = `${README_BEGIN}\n${table(rows)}\n\nMeasured ${when} with \`sudo npm run test:kernels -- --readme\` (qemu without KVM for the Debian kernels: their times are emulated).\n`;
  fs.writeFileSync(file, text.slice(0, begin) + body + text.slice(end));
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.table) {
    // a saved --json run, shown again
    const rows = JSON.parse(fs.readFileSync(args.table, 'utf8'));
    process.stdout.write(`${rows.some((r) => r.sessions.bench) ? benchTable(rows) : table(rows)}\n`);
    return;
  }
  if (process.getuid() !== 0) fail('loading BPF needs root: sudo npm run test:kernels');
  const cache = process.env.WASMSHARK_KERNEL_CACHE ?? path.join(ROOT, '.cache', 'kernels');
  const payload = path.join(cache, 'payload');
  buildPayload(payload, args);
  const rows = [];
  if (args.kernels.includes('host')) rows.push(runHost(payload));
  rows.push(...runVms(args.kernels.filter((k) => k !== 'host'), payload, path.join(cache, 'out'), args.bench ? 60 * 60 : 240));
  if (args.bench) {
    process.stdout.write(`${benchTable(rows)}\n`);
    if (args.json) fs.writeFileSync(args.json, JSON.stringify(rows, null, 2));
    process.exitCode = rows.every((r) => r.booted) ? 0 : 1;
    return;
  }
  process.stdout.write(`${table(rows)}\n`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(rows, null, 2));
  if (args.readme) writeReadme(rows);
  const failed = rows.flatMap(failures);
  for (const f of failed) process.stderr.write(`test:kernels: ${f}\n`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main();
