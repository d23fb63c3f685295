/**
 * The library's watch(): a case per runtime, found at start, by exec or by
 * rescan; each judged and reported on its own, then forgotten; limits
 * counted, not exceeded.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Alert } from '../src/alerts';
import type { Report } from '../src/report';
import { ProcSource } from '../src/sources/proc/source';
import { watch, type Watch, type WatchedRuntime, type WatchStats } from '../src/watch';
import { describeBpf, ROOT, sleep, startWaiting } from './helpers/env';

const BUN = path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
const WASM_LOOP = path.join(ROOT, 'test', 'scenarios', 'workloads', 'wasm-loop.js');

interface Seen {
  runtimes: WatchedRuntime[];
  alerts: Array<[Alert, WatchedRuntime]>;
  reports: Array<[Report, WatchedRuntime, string | null]>;
  warnings: string[];
  errors: Error[];
  ends: WatchStats[];
}

/** Everything a watch says, from the start. */
function record(w: Watch): Seen {
  const seen: Seen = { runtimes: [], alerts: [], reports: [], warnings: [], errors: [], ends: [] };
  w.on('runtime', (rt) => seen.runtimes.push(rt));
  w.on('alert', (a, rt) => seen.alerts.push([a, rt]));
  w.on('report', (r, rt, file) => seen.reports.push([r, rt, file]));
  w.on('warning', (m) => seen.warnings.push(m));
  w.on('error', (e) => seen.errors.push(e));
  w.on('end', (s) => seen.ends.push(s));
  return seen;
}

async function until(what: string, ok: () => boolean, ms = 30000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let tmp: string;
const children: ChildProcess[] = [];
const watches: Watch[] = [];
/** watch(), stopped after the tests even if one fails half-way. */
function started(options: Parameters<typeof watch>[0]): Watch {
  const w = watch(options);
  watches.push(w);
  return w;
}
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-watch-'));
});
afterAll(async () => {
  await Promise.all(watches.map((w) => w.stop()));
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('options are checked before anything starts', () => {
  it.each([
    [{ runtimes: ['node', 'java'] }, /unknown runtime 'java'/],
    [{ pids: [4194303] }, /no such process: 4194303/],
    [{ pids: [process.pid] }, /cannot monitor wasmshark itself/],
    [{ timeout: -1 }, /timeout must be a number of seconds >= 0/],
    [{ limits: { runtimes: 0 } }, /limits.runtimes must be a positive integer/],
    [{ rescanIntervalMs: 1 }, /rescanIntervalMs must be an integer >= 10/],
    [{ syscalls: 'all' as 'lean' }, /syscalls must be 'lean' or 'exact'/],
    [{ outputDir: '/nonexistent/wasmshark' }, /cannot write report .*: directory \/nonexistent\/wasmshark does not exist/],
  ])('%j', (options, message) => {
    expect(() => watch(options)).toThrow(message);
  });
});

describe('/proc mode: no kernel exec events', () => {
  it('finds a runtime started later by rescanning /proc, judges it, reports it, forgets it', async () => {
    const w = started({ bpf: false, runtimes: ['bun'], rescanIntervalMs: 50, pollIntervalMs: 100 });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    const bun = spawn(BUN, [WASM_LOOP, '3000'], { stdio: 'ignore' });
    children.push(bun);
    await until('the bun runtime', () => seen.runtimes.some((r) => r.pid === bun.pid));
    const rt = seen.runtimes.find((r) => r.pid === bun.pid)!;
    expect(rt).toMatchObject({ foundBy: 'rescan', runtime: { name: 'bun', engine: 'JavaScriptCore' } });
    expect(rt.id).toBe(`${bun.pid}-${rt.startTicks}`);
    await until('its report', () => seen.reports.some(([, r]) => r.pid === bun.pid));
    const [report] = seen.reports.find(([, r]) => r.pid === bun.pid)!;
    expect(report).toMatchObject({ pid: bun.pid, verdict: 'CLEAN', bpf_used: false, end_reason: 'target-exit' });
    expect(report.target.runtime.name).toBe('bun');
    expect(w.runtimes().map((r) => r.pid)).not.toContain(bun.pid);
    const [a, b] = await Promise.all([w.stop(), w.stop()]);
    expect(a).toBe(b);
    expect(seen.ends).toHaveLength(1);
    expect(a).toMatchObject({ reason: 'stopped', execSource: 'rescan', bpf: false });
    expect(seen.errors).toEqual([]);
  }, 60000);
});

describe("a runtime's /proc source when the kernel follows the tree", () => {
  it('reads mappings again only when told the kernel saw code mapped', async () => {
    const target = startWaiting(['wx-keep', '5000']);
    children.push(target.child);
    const proc = new ProcSource(target.pid, { intervalMs: 20, kernelFollows: true });
    const rwx: number[] = [];
    proc.on('event', (e) => {
      if (e.kind === 'rwx-region') rwx.push(e.start);
    });
    proc.start();
    void target.go();
    await until('the mapping', () => fs.readFileSync(`/proc/${target.pid}/maps`, 'utf8').includes(' rwxp '));
    await sleep(200); // ten passes
    expect(rwx).toEqual([]);
    proc.mapped(target.pid);
    await until('the region', () => rwx.length === 1);
    proc.stop();
  });
});

describeBpf('eBPF mode', () => {
  it('follows a process given by pid: its alerts carry it, its report comes when it exits, then it is forgotten', async () => {
    const target = startWaiting(['wx', '3']);
    children.push(target.child);
    const dir = fs.mkdtempSync(path.join(tmp, 'reports-'));
    const w = started({ pids: [target.pid], outputDir: dir });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    expect(seen.runtimes).toEqual([expect.objectContaining({ pid: target.pid, foundBy: 'pid' })]);
    await target.go();
    await until('the report', () => seen.reports.length === 1);

    const [report, rt, file] = seen.reports[0];
    expect(rt.pid).toBe(target.pid);
    expect(seen.alerts.map(([a, r]) => [a.title, r.pid])).toEqual([['W+X mmap() via eBPF tracepoint', target.pid]]);
    expect(report).toMatchObject({ pid: target.pid, verdict: 'MALICIOUS', rwx_regions: 3, end_reason: 'target-exit', bpf_used: true });
    expect(report.alerts[0].count).toBe(3);
    // today's report, one file per process: <pid>-<starttime>.json, 0600
    expect(file).toBe(path.join(dir, `${target.pid}-${rt.startTicks}.json`));
    expect(JSON.parse(fs.readFileSync(file!, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
    expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
    // forgotten: nothing of it is kept
    expect(w.runtimes()).toEqual([]);
    expect(w.stats()).toMatchObject({ processes: 0, verdicts: { MALICIOUS: 1 }, reports: { written: 1, pending: 0 } });

    const stats = await w.stop();
    expect(stats).toMatchObject({ reason: 'stopped', execSource: 'kernel', alerts: { CRITICAL: 1 } });
    expect(seen.errors).toEqual([]);
  }, 60000);

  it("finds a runtime from the kernel's exec event the moment it starts", async () => {
    const w = started({ runtimes: ['bun'] });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    const bun = spawn(BUN, [WASM_LOOP, '800'], { stdio: 'ignore' });
    children.push(bun);
    await until('its report', () => seen.reports.some(([, r]) => r.pid === bun.pid));
    const rt = seen.runtimes.find((r) => r.pid === bun.pid)!;
    expect(rt).toMatchObject({ foundBy: 'exec', runtime: { name: 'bun' } });
    expect(rt.cmdline).toEqual([BUN, WASM_LOOP, '800']);
    const [report] = seen.reports.find(([, r]) => r.pid === bun.pid)!;
    // followed from its first moments: JavaScriptCore's one RWX mapping at start is seen, and judged its own
    expect(report.alerts.map((a) => a.rule)).toContain('memory.jit-expected');
    expect(report).toMatchObject({ verdict: 'CLEAN', end_reason: 'target-exit' });
    await w.stop();
  }, 60000);

  it('reports a runtime that was gone before the watch could follow it, from its exec, and says that is all it saw', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'reports-'));
    const w = started({ runtimes: ['bun'], outputDir: dir });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    // the watch's thread is blocked while bun starts and exits: by the time it hears of the exec, bun is gone
    const r = spawnSync(BUN, ['--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const pid = r.pid;
    await until('its report', () => seen.reports.some(([, rep]) => rep.pid === pid));
    const rt = seen.runtimes.find((x) => x.pid === pid)!;
    expect(rt).toMatchObject({ foundBy: 'exec', runtime: { name: 'bun' }, cmdline: [BUN, '--version'], startTicks: 0 });
    const [report, , file] = seen.reports.find(([, rep]) => rep.pid === pid)!;
    expect(report).toMatchObject({ verdict: 'CLEAN', end_reason: 'target-exit', bpf_used: true });
    expect(report.coverage).toMatchObject({ level: 'partial', reasons: ['it exited before the watch could follow it: only its exec was seen'] });
    expect(file).toBe(path.join(dir, `${rt.id}.json`));
    expect(rt.id).toMatch(new RegExp(`^${pid}-exec\\d+$`));
    expect(w.runtimes()).toEqual([]);
    await w.stop();
    expect(seen.errors).toEqual([]);
  }, 60000);

  it('judges a shell the runtime starts at once, whether the kernel or the first /proc pass sees it', async () => {
    // no WASM, no warm-up: the shell may start before the watch has the runtime followed
    const w = started({ runtimes: ['bun'] });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    const bun = spawn(BUN, ['-e', "Bun.spawn(['/bin/sh', '-c', 'sleep 1']); await Bun.sleep(1500);"], { stdio: 'ignore' });
    children.push(bun);
    await until('its report', () => seen.reports.some(([, r]) => r.pid === bun.pid));
    const shells = seen.alerts.filter(([a, rt]) => rt.pid === bun.pid && a.rule === 'process.shell');
    expect(shells).toHaveLength(1);
    expect(shells[0][0].evidence).toMatch(/argv=\/bin\/sh -c 'sleep 1'/);
  }, 60000);

  it('judges what /proc shows under a runtime when it is first followed: those children began unseen', async () => {
    const node = spawn(process.execPath, ['-e', "require('child_process').spawn('/bin/sh', ['-c', 'sleep 5'], { stdio: 'ignore' }); setTimeout(() => {}, 5000);"], {
      stdio: 'ignore',
    });
    children.push(node);
    await until('its shell', () => fs.readFileSync(`/proc/${node.pid}/task/${node.pid}/children`, 'utf8').trim() !== '');
    await sleep(100); // the shell has exec'd
    const w = started({ pids: [node.pid!] });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    const shells = seen.alerts.filter(([a, rt]) => rt.pid === node.pid && a.rule === 'process.shell');
    expect(shells).toHaveLength(1);
    expect(shells[0][0].evidence).toMatch(/^argv=\/bin\/sh -c 'sleep 5' image=\S*\/(dash|sh|bash) /);
    await w.stop();
  }, 60000);

  it('attributes descendants to their runtime, keeps the first children only, and counts the rest', async () => {
    const sh = spawn('/bin/sh', ['-c', 'read _; i=0; while [ $i -lt 12 ]; do /bin/true $i; i=$((i + 1)); done'], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(sh);
    const w = started({ pids: [sh.pid!], limits: { children: 5 } });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    sh.stdin!.end('go\n');
    await until('the report', () => seen.reports.length === 1);
    const [report] = seen.reports[0];
    expect(report.children).toHaveLength(5);
    expect(report.capped.children).toBe(7);
    // each /bin/true with its own argument is its own alert, all on the shell's case
    expect(seen.alerts.filter(([a]) => a.rule === 'process.child').map(([, rt]) => rt.pid)).toEqual(new Array(12).fill(sh.pid));
    const stats = await w.stop();
    expect(stats.capped.children).toBe(7);
  }, 60000);

  it('follows no more runtimes than its limit: the rest are counted, with one warning', async () => {
    const a = startWaiting(['sleep', '5000']);
    const b = startWaiting(['sleep', '5000']);
    children.push(a.child, b.child);
    const w = started({ pids: [a.pid, b.pid], limits: { runtimes: 1 } });
    const seen = record(w);
    await new Promise((resolve) => w.once('ready', resolve));
    expect(seen.runtimes.map((r) => r.pid)).toEqual([a.pid]);
    expect(seen.warnings).toEqual(['1 runtimes followed already (the limit); more are counted, not followed']);
    expect(w.stats().capped.runtimes).toBe(1);
    // still running when the watch ends: reported then
    const stats = await w.stop();
    expect(seen.reports.map(([r]) => [r.pid, r.end_reason])).toEqual([[a.pid, 'stopped']]);
    expect(stats.capped.runtimes).toBe(1);
  }, 60000);
});
