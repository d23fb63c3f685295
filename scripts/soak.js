#!/usr/bin/env node
/*
 * Soak: monitor a busy target for a long time and check that the monitor
 * neither grows nor loses anything.
 *
 *   sudo npm run soak -- --minutes 30
 *   sudo npm run soak -- --seconds 30 [--json]
 *
 * The target, started with the library's monitorCommand(), is a shell loop
 * that runs the test trigger again and again: `wx N` (N W+X mmaps, each an
 * event) and `connect` to a local server (an established outbound TCP
 * connection). Every run is a new process, so the per-process paths (fork,
 * exec, exit, /proc polling of children) are exercised as well as the
 * memory-event fast path. Once a minute (every ten seconds for runs under
 * two minutes), and at the end, it prints RSS, heap, open fds, events
 * delivered and drops.
 *
 * It fails (exit 1) if, measured from the end of the warm-up (a quarter of
 * the run, at most 60 s) to the end:
 *   - RSS grew by more than --rss-mb (default 30) MB,
 *   - the open fds are not the same number,
 *   - anything was lost silently: for W+X mmaps, connects and execs, the
 *     events the target is known to have caused (from its own count of runs)
 *     must equal the events delivered plus the drops the kernel counted for
 *     that kind (with no drops: exactly the events delivered), and with
 *     --syscalls exact the kernel's own syscall counts for connect, execve,
 *     forks and exits must agree too (lean hooks do not count syscalls).
 *
 * With --watch, the watch instead (see watchSoak below):
 *
 *   sudo npm run soak -- --watch --minutes 30
 *
 * Needs root (eBPF), cc (it compiles the trigger) and `npm run build`.
 * Run node with --expose-gc (the npm script does) so RSS is measured after a
 * collection rather than at whatever point the garbage collector has reached.
 */
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const { monitorCommand, watch } = require(path.join(ROOT, 'dist', 'index.js'));

function usage(message) {
  process.stderr.write(`soak: ${message}\nusage: soak.js (--minutes N | --seconds N) [--burst N] [--rss-mb MB] [--syscalls lean|exact] [--heap-mb MB] [--watch] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: 60, burst: 20000, rssMb: 30, heapMb: 1, watch: false, json: false, syscalls: 'lean' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const number = () => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n <= 0) usage(`${flag} needs a positive number, got '${argv[i]}'`);
      return n;
    };
    if (flag === '--minutes') opts.seconds = number() * 60;
    else if (flag === '--seconds') opts.seconds = number();
    else if (flag === '--burst') opts.burst = Math.round(number());
    else if (flag === '--rss-mb') opts.rssMb = number();
    else if (flag === '--heap-mb') opts.heapMb = number();
    else if (flag === '--watch') opts.watch = true;
    else if (flag === '--json') opts.json = true;
    else if (flag === '--syscalls') {
      opts.syscalls = argv[++i];
      if (opts.syscalls !== 'lean' && opts.syscalls !== 'exact') usage(`--syscalls takes lean or exact, got '${opts.syscalls}'`);
    }
    else usage(`unknown option '${flag}'`);
  }
  return opts;
}

const MB = 1024 * 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What this process has open, as 'fd=target' (the directory being read, gone by the readlink, is left out). */
function fdTargets() {
  const out = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.push(`${fd}=${fs.readlinkSync(`/proc/self/fd/${fd}`)}`);
    } catch {
      // the directory's own fd
    }
  }
  return out;
}

function openFds() {
  return fs.readdirSync('/proc/self/fd').length - 1; // less the one readdir itself holds
}

function sample(startedAt, counts, drops) {
  if (global.gc) global.gc();
  const mem = process.memoryUsage();
  return {
    t: Math.round((Date.now() - startedAt) / 1000),
    rssMb: Math.round((mem.rss / MB) * 10) / 10,
    heapMb: Math.round((mem.heapUsed / MB) * 10) / 10,
    fds: openFds(),
    events: counts.total,
    drops,
  };
}

function buildTrigger(dir) {
  const out = path.join(dir, 'trigger');
  execFileSync('cc', ['-O2', '-pthread', path.join(ROOT, 'test', 'fixtures', 'trigger.c'), '-o', out]);
  return out;
}

/** A local server in its own process, so its sockets are not counted among ours. */
function startServer() {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, ['-e', `
      const s = require('net').createServer((c) => c.destroy());
      s.listen(0, '127.0.0.1', () => console.log(s.address().port));
      process.stdin.on('end', () => process.exit(0)).resume();
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    server.stdout.once('data', (d) => resolve({ server, port: Number(String(d).trim()) }));
    server.once('error', reject);
  });
}

/*
 * The target. It counts its own completed runs, so the events it caused are
 * known exactly, and writes the counts when told to stop (the stop file).
 */
const LOOP = `
wx=0; conn=0
while [ ! -e "$SOAK_STOP" ]; do
  "$SOAK_TRIGGER" wx "$SOAK_BURST" && wx=$((wx + 1))
  "$SOAK_TRIGGER" connect 127.0.0.1 "$SOAK_PORT" > /dev/null && conn=$((conn + 1))
done
echo "$wx $conn" > "$SOAK_RESULT"
`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid() !== 0) usage('needs root (eBPF): sudo npm run soak -- ...');
  if (opts.watch) return watchSoak(opts);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-soak-'));
  const trigger = buildTrigger(dir);
  const { server, port } = await startServer();
  const stopFile = path.join(dir, 'stop');
  const resultFile = path.join(dir, 'result');

  const counts = { total: 0, wx: 0, connect: 0, exec: 0, fork: 0, exit: 0, byKind: {} };
  const m = monitorCommand('/bin/sh', ['-c', LOOP], {
    timeout: 0,
    syscalls: opts.syscalls,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, SOAK_TRIGGER: trigger, SOAK_BURST: String(opts.burst), SOAK_PORT: String(port), SOAK_STOP: stopFile, SOAK_RESULT: resultFile },
  });
  m.on('event', (e) => {
    counts.total++;
    counts.byKind[e.kind] = (counts.byKind[e.kind] ?? 0) + 1;
    if (e.kind === 'mmap' && e.prot === 7 && e.fd === -1) counts.wx++;
    else if (e.kind === 'connect' && e.family === 'inet' && e.port === port) counts.connect++;
    else if (e.kind === 'exec') counts.exec++;
    else if (e.kind === 'fork' && !e.thread) counts.fork++;
    else if (e.kind === 'exit') counts.exit++;
  });
  const errors = [];
  m.on('error', (err) => errors.push(err.message));
  m.on('warning', (w) => errors.push(`warning: ${w}`));
  await new Promise((resolve) => m.once('ready', resolve));

  const liveDrops = () => m.stats().drops?.total ?? null;
  const startedAt = Date.now();
  const every = opts.seconds >= 120 ? 60 : 10;
  const warmup = Math.min(60, opts.seconds / 4);
  const samples = [];
  const log = (s, label) => {
    samples.push(s);
    if (!opts.json) {
      process.stdout.write(`${label.padEnd(9)} t=${String(s.t).padStart(5)}s  rss=${s.rssMb.toFixed(1).padStart(6)} MB  heap=${s.heapMb.toFixed(1).padStart(6)} MB  fds=${s.fds}  events=${s.events}  drops=${s.drops}\n`);
    }
  };

  let baseline = null;
  let next = every;
  while ((Date.now() - startedAt) / 1000 < opts.seconds) {
    await sleep(250);
    const t = (Date.now() - startedAt) / 1000;
    if (!baseline && t >= warmup) {
      baseline = sample(startedAt, counts, liveDrops());
      log(baseline, 'warm');
    }
    if (t >= next) {
      next += every;
      log(sample(startedAt, counts, liveDrops()), 'sample');
    }
  }
  const end = sample(startedAt, counts, liveDrops());
  log(end, 'end');

  // Stop the target between runs; the monitor ends on its exit and drains what the kernel holds.
  fs.writeFileSync(stopFile, '');
  const report = await m.done;
  server.stdin.end();
  const [wxRuns, connRuns] = fs.readFileSync(resultFile, 'utf8').trim().split(' ').map(Number);
  fs.rmSync(dir, { recursive: true, force: true });

  const drops = report.drops;
  const syscalls = m.stats().syscalls;
  const NR = { connect: 42, clone: 56, fork: 57, vfork: 58, execve: 59, exit_group: 231, clone3: 435 };
  // only exact hooks count syscalls in the kernel; lean ones sample them, which cannot vouch for a total
  const count = (...nrs) => (opts.syscalls === 'exact' ? nrs.reduce((sum, nr) => sum + (syscalls.get(nr) ?? 0), 0) : null);
  const runs = wxRuns + connRuns;
  const accounting = [
    // [what, caused by the target, delivered, dropped (kernel count), the kernel's count of the syscall behind it]
    ['W+X mmap', wxRuns * opts.burst, counts.wx, drops.by_kind.mmap ?? 0, null],
    ['connect', connRuns, counts.connect, drops.by_kind.connect ?? 0, count(NR.connect)],
    // every run is one fork and one exec by the shell, and the shell itself was exec'd by the launch gate
    ['exec', runs + 1, counts.exec, drops.by_kind.exec ?? 0, count(NR.execve)],
    ['fork', runs, counts.fork, drops.by_kind.fork ?? 0, count(NR.clone, NR.fork, NR.vfork, NR.clone3)], // dash uses vfork
    ['exit', runs + 1, counts.exit, drops.by_kind.exit ?? 0, count(NR.exit_group)],
  ].map(([what, caused, delivered, dropped, syscalls]) => {
    // dropped counts every event of the kind (a W+X count cannot tell them apart), so with drops
    // the caused events must lie between what was delivered and what was delivered or dropped
    const silent = dropped === 0 ? caused !== delivered : caused < delivered || caused > delivered + dropped;
    const kernelDisagrees = syscalls !== null && syscalls !== delivered + dropped;
    return { what, caused, delivered, dropped, syscalls, lost: silent || kernelDisagrees };
  });

  const result = {
    seconds: opts.seconds,
    burst: opts.burst,
    runs: { wx: wxRuns, connect: connRuns },
    eventsPerSecond: Math.round(counts.total / ((Date.now() - startedAt) / 1000)),
    samples,
    rssGrowthMb: Math.round((end.rssMb - baseline.rssMb) * 10) / 10,
    heapGrowthMb: Math.round((end.heapMb - baseline.heapMb) * 10) / 10,
    fdGrowth: end.fds - baseline.fds,
    toleranceMb: opts.rssMb,
    accounting,
    report: { end_reason: report.end_reason, events: report.events, drops: report.drops, alerts: report.alerts.length, children: report.children.length },
    errors,
  };
  const failures = [];
  if (result.rssGrowthMb > opts.rssMb) failures.push(`RSS grew ${result.rssGrowthMb} MB after warm-up (tolerance ${opts.rssMb} MB)`);
  if (result.fdGrowth !== 0) failures.push(`open fds went from ${baseline.fds} to ${end.fds} after warm-up`);
  for (const a of accounting) {
    if (a.lost) failures.push(`${a.what}: caused ${a.caused}, delivered ${a.delivered}, dropped ${a.dropped}${a.syscalls !== null ? `, kernel syscall count ${a.syscalls}` : ''}: lost silently`);
  }
  if (errors.length) failures.push(`monitor errors: ${errors.slice(0, 3).join('; ')}`);
  result.failures = failures;

  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(`\nruns: ${wxRuns} wx (${opts.burst} W+X mmaps each), ${connRuns} connect; ${result.eventsPerSecond} events/s delivered\n`);
    for (const a of accounting) {
      process.stdout.write(`${a.what.padEnd(9)}: caused ${a.caused}, delivered ${a.delivered}, dropped ${a.dropped}${a.syscalls !== null ? `, kernel syscalls ${a.syscalls}` : ''}${a.lost ? '  LOST' : ''}\n`);
    }
    process.stdout.write(`after warm-up: RSS ${result.rssGrowthMb >= 0 ? '+' : ''}${result.rssGrowthMb} MB (tolerance ${opts.rssMb}), heap ${result.heapGrowthMb >= 0 ? '+' : ''}${result.heapGrowthMb} MB, fds ${result.fdGrowth >= 0 ? '+' : ''}${result.fdGrowth}\n`);
    process.stdout.write(failures.length ? `FAIL\n${failures.map((f) => `  ${f}`).join('\n')}\n` : 'PASS\n');
  }
  process.exitCode = failures.length ? 1 : 0;
}

/*
 * The watch under churn: a shell loop (not a runtime, so not followed)
 * starts a Bun runtime every ~250 ms, each running the test's WASM module for
 * 100 ms; every fifth one then has a host function start a shell. The watch
 * (the library's watch(), runtimes: bun) finds each from its exec event,
 * judges it, writes its report to a directory and forgets it.
 *
 * It fails (exit 1) if, from the end of the warm-up (a quarter of the run, at
 * most 60 s) to the end:
 *   - the heap after a full GC is not flat: it grew more than --heap-mb
 *     (default 1) MB, or (runs of 5 minutes or more) its slope over the last
 *     half of the samples is still climbing (see heapTrend);
 *   - RSS grew more than --rss-mb MB, or the open fds are not the same number;
 * or if any runtime the loop started has no report (or a wrong verdict: CLEAN
 * for the WASM-only ones, SUSPICIOUS or worse for those that start a shell),
 * or the watch still holds a runtime or process at the end.
 */
/** Least-squares slope of heap after GC against time, in MB per minute. */
function slopeMbPerMin(points) {
  if (points.length < 2) return null;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mh = points.reduce((a, p) => a + p.heapMb, 0) / n;
  const cov = points.reduce((a, p) => a + (p.t - mt) * (p.heapMb - mh), 0);
  const varT = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return varT > 0 ? (cov / varT) * 60 : null;
}

/*
 * Whether the heap after GC is flat from the warm-up on: the slope of its
 * first half against that of its last. A leak keeps climbing in the last half;
 * V8 still settling shows in the first half only. Flat: the last half's slope
 * is under 0.02 MB/min (36 MB a day), or no steeper than the first half's
 * while that one is itself within 0.05 MB/min.
 */
function heapTrend(points) {
  if (points.length < 4) return null;
  const half = Math.floor(points.length / 2);
  const first = slopeMbPerMin(points.slice(0, half + 1));
  const last = slopeMbPerMin(points.slice(half));
  const flat = last <= 0.02 || (last <= first && first <= 0.05);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return {
    startMb: points[0].heapMb,
    middleMb: points[half].heapMb,
    endMb: points[points.length - 1].heapMb,
    firstHalfMbPerMin: r3(first),
    lastHalfMbPerMin: r3(last),
    flat,
  };
}

async function watchSoak(opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-soak-watch-'));
  const reportsDir = path.join(dir, 'reports');
  fs.mkdirSync(reportsDir);
  const stopFile = path.join(dir, 'stop');
  const resultFile = path.join(dir, 'result');
  const workloads = path.join(ROOT, 'test', 'scenarios', 'workloads');
  const bun = path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');

  const w = watch({ runtimes: ['bun'], outputDir: reportsDir });
  const errors = [];
  w.on('error', (err) => errors.push(err.message));
  w.on('warning', (m) => errors.push(`warning: ${m}`));
  const reports = { clean: 0, shell: 0, wrong: [], other: 0, files: 0 };
  // the soak's own runtimes carry this argument (the workloads ignore it): others' Bun on the host are told apart
  const mark = `wasmshark-soak-${process.pid}`;
  w.on('report', (r, _rt, file) => {
    const script = r.target.cmdline[3] === mark ? path.basename(r.target.cmdline[1] ?? '') : '';
    if (script === 'wasm-loop.js') {
      reports.clean++;
      if (r.verdict !== 'CLEAN') reports.wrong.push(`${r.pid} ${script} ${r.verdict} (${r.alerts.filter((a) => a.level !== 'INFO').map((a) => `${a.rule}: ${a.evidence}`).join('; ')})`);
    } else if (script === 'wasm-then-shell.js') {
      reports.shell++;
      if (r.verdict !== 'SUSPICIOUS' && r.verdict !== 'MALICIOUS') reports.wrong.push(`${r.pid} ${script} ${r.verdict}`);
    } else {
      reports.other++; // some other Bun on the host
    }
    if (file) {
      reports.files++;
      fs.rmSync(file, { force: true }); // counted; a 30-minute run would otherwise leave thousands
    }
  });
  await new Promise((resolve) => w.once('ready', resolve));

  // counts its own launches, so every runtime started is known to have (or lack) a report
  const loop = spawn('/bin/sh', ['-c', `
    n=0; s=0
    while [ ! -e "$SOAK_STOP" ]; do
      n=$((n + 1))
      if [ $((n % 5)) -eq 0 ]; then "$BUN" "$W/wasm-then-shell.js" 100 "$MARK" & s=$((s + 1)); else "$BUN" "$W/wasm-loop.js" 100 "$MARK" > /dev/null & fi
      sleep 0.25
    done
    wait
    echo "$((n - s)) $s" > "$SOAK_RESULT"
  `], { stdio: 'ignore', env: { PATH: process.env.PATH, BUN: bun, W: workloads, MARK: mark, SOAK_STOP: stopFile, SOAK_RESULT: resultFile } });

  const startedAt = Date.now();
  const every = opts.seconds >= 120 ? 30 : 10;
  const warmup = Math.min(60, opts.seconds / 4);
  const samples = [];
  const sampleNow = () => {
    global.gc();
    const mem = process.memoryUsage();
    const st = w.stats();
    const fdList = fdTargets();
    return {
      t: Math.round((Date.now() - startedAt) / 1000),
      rssMb: Math.round((mem.rss / MB) * 10) / 10,
      heapMb: Math.round((mem.heapUsed / MB) * 100) / 100,
      fds: fdList.length,
      fdList,
      runtimes: reports.clean + reports.shell + reports.other,
      followed: Object.values(st.runtimes.followed).reduce((a, b) => a + b, 0),
      events: st.events.total,
      drops: st.drops ? st.drops.total : 0,
    };
  };
  const log = (s, label) => {
    const { fdList: _fdList, ...shown } = s;
    samples.push({ ...shown, label });
    if (!opts.json) {
      process.stdout.write(`${label.padEnd(9)} t=${String(s.t).padStart(5)}s  heap=${s.heapMb.toFixed(2).padStart(7)} MB  rss=${s.rssMb.toFixed(1).padStart(6)} MB  fds=${s.fds}  runtimes judged=${s.runtimes}  followed now=${s.followed}  events=${s.events}  drops=${s.drops}\n`);
    }
  };
  let baseline = null;
  let next = every;
  while ((Date.now() - startedAt) / 1000 < opts.seconds) {
    await sleep(250);
    const t = (Date.now() - startedAt) / 1000;
    if (!baseline && t >= warmup) log((baseline = sampleNow()), 'warm');
    if (t >= next) {
      next += every;
      log(sampleNow(), 'sample');
    }
  }
  // let the last runtimes finish and be reported before the end is measured
  fs.writeFileSync(stopFile, '');
  await new Promise((resolve) => loop.once('exit', resolve));
  await sleep(1500);
  const end = sampleNow();
  log(end, 'end');
  const held = { runtimes: w.runtimes().filter((r) => r.cmdline[3] === mark).length, processes: w.stats().processes };
  const stats = await w.stop();
  const [cleanRuns, shellRuns] = fs.readFileSync(resultFile, 'utf8').trim().split(' ').map(Number);
  fs.rmSync(dir, { recursive: true, force: true });

  const after = samples.filter((s) => s.label !== 'warm' && s.t >= baseline.t);
  const judgedAfter = end.runtimes - baseline.runtimes;
  const trend = heapTrend(samples.filter((s) => s.t >= baseline.t));
  const result = {
    mode: 'watch',
    seconds: opts.seconds,
    runs: { clean: cleanRuns, shell: shellRuns },
    reports: { clean: reports.clean, shell: reports.shell, other: reports.other, files: reports.files, wrong: reports.wrong.slice(0, 5) },
    samples,
    heapGrowthMb: Math.round((end.heapMb - baseline.heapMb) * 100) / 100,
    heapPeakAfterWarmupMb: Math.max(...after.map((s) => s.heapMb)),
    heapTrend: trend,
    bytesPerRuntime: judgedAfter > 0 ? Math.round(((end.heapMb - baseline.heapMb) * MB) / judgedAfter) : null,
    rssGrowthMb: Math.round((end.rssMb - baseline.rssMb) * 10) / 10,
    // the same descriptors, not only as many: a leak that closes another fd still shows
    fdGrowth: end.fdList.filter((f) => !baseline.fdList.includes(f)).length,
    heldAtEnd: held,
    drops: stats.drops,
    capped: stats.capped,
    tolerance: { heapMb: opts.heapMb, rssMb: opts.rssMb },
    errors,
  };
  const failures = [];
  // a short run's halves are a minute or two of V8 still compiling: the trend is judged on runs of 5 minutes or more
  if (trend && !trend.flat && opts.seconds >= 300) failures.push(`heap after GC still climbing in the last half: ${trend.lastHalfMbPerMin} MB/min (first half ${trend.firstHalfMbPerMin})`);
  if (result.heapGrowthMb > opts.heapMb) failures.push(`heap after GC grew ${result.heapGrowthMb} MB after warm-up (flat means at most ${opts.heapMb} MB)`);
  if (result.rssGrowthMb > opts.rssMb) failures.push(`RSS grew ${result.rssGrowthMb} MB after warm-up (tolerance ${opts.rssMb} MB)`);
  if (result.fdGrowth !== 0) {
    const added = end.fdList.filter((f) => !baseline.fdList.includes(f)).join(' ');
    failures.push(`${result.fdGrowth} fds opened after warm-up are still open at the end: ${added}`);
  }
  if (reports.clean !== cleanRuns || reports.shell !== shellRuns) {
    failures.push(`runtimes started: ${cleanRuns} WASM-only, ${shellRuns} with a shell; reports: ${reports.clean} and ${reports.shell}`);
  }
  if (reports.files !== reports.clean + reports.shell + reports.other) failures.push(`${reports.clean + reports.shell + reports.other} reports, ${reports.files} written`);
  if (reports.wrong.length) failures.push(`wrong verdicts: ${reports.wrong.slice(0, 3).join('; ')}`);
  if (held.runtimes !== 0) failures.push(`${held.runtimes} exited runtimes still held at the end`);
  if (errors.length) failures.push(`watch errors: ${errors.slice(0, 3).join('; ')}`);
  result.failures = failures;

  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(`\nruntimes started: ${cleanRuns} WASM-only, ${shellRuns} starting a shell; reports ${reports.clean} + ${reports.shell} (+${reports.other} other Bun on the host), ${reports.files} files written\n`);
    process.stdout.write(`after warm-up (${judgedAfter} runtimes judged): heap ${result.heapGrowthMb >= 0 ? '+' : ''}${result.heapGrowthMb} MB (flat: at most ${opts.heapMb} MB; ${result.bytesPerRuntime} bytes per runtime), peak ${result.heapPeakAfterWarmupMb} MB; RSS ${result.rssGrowthMb >= 0 ? '+' : ''}${result.rssGrowthMb} MB; fds ${result.fdGrowth >= 0 ? '+' : ''}${result.fdGrowth}\n`);
    if (trend) {
      const slope = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(3)} MB/min`;
      process.stdout.write(`heap after GC at warm-up / middle / end: ${trend.startMb} / ${trend.middleMb} / ${trend.endMb} MB; ` +
        `slope first half ${slope(trend.firstHalfMbPerMin)}, last half ${slope(trend.lastHalfMbPerMin)}: ${trend.flat ? 'flat' : 'NOT flat'}\n`);
    }
    process.stdout.write(`kernel drops ${stats.drops ? stats.drops.total : 0}; limits reached: ${JSON.stringify(stats.capped)}\n`);
    process.stdout.write(failures.length ? `FAIL\n${failures.map((f) => `  ${f}`).join('\n')}\n` : 'PASS\n');
  }
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`soak: ${err.stack || err.message}\n`);
  process.exit(1);
});
