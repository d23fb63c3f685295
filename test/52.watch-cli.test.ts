/**
 * `wasmshark watch` end to end, as a service runs it: started before the
 * runtimes, it finds each one, prints its alerts as NDJSON with the right pid
 * and runtime, and writes one report per runtime.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { describeBpf, ROOT, sleep, wasmtimeVenv } from './helpers/env';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const WORKLOADS = path.join(ROOT, 'test', 'scenarios', 'workloads');
const BUN = path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
const DENO = path.join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc', 'deno');

interface Line {
  schema_version: number;
  type: 'alert' | 'event' | 'runtime' | 'verdict';
  time: string;
  hostname: string;
  pid: number;
  runtime: string;
  output: string;
  rule?: string;
  level?: string;
  category?: string;
  evidence?: string;
  verdict?: string;
  fields: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A running CLI, its output so far, and a way to wait for something in it. */
function start(args: string[]) {
  const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { p, stdout: '', stderr: '', code: null as number | null };
  p.stdout.on('data', (d) => (run.stdout += d));
  p.stderr.on('data', (d) => (run.stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve((run.code = code))));
  const lines = () =>
    run.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);
  return { run, exited, lines };
}

async function until(what: string, ok: () => boolean, ms = 60000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let tmp: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-watch-cli-'));
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('usage errors: one line, exit 2', () => {
  it.each([
    [['watch', '--output', 'r.json'], /^wasmshark: error: watch writes one report per runtime: use --output-dir DIR\n/],
    [['watch', '--runtime', 'java'], /^wasmshark: error: --runtime: unknown runtime 'java'/],
    [['watch', '--output-dir', '/nonexistent/wasmshark', '--no-bpf'], /^wasmshark: error: cannot write report \/nonexistent\/wasmshark\/<pid>-<starttime>.json: directory \/nonexistent\/wasmshark does not exist\n$/],
    [['watch', '--pid', '4194303', '--no-bpf'], /^wasmshark: error: no such process: 4194303\n$/],
    [['watch', '--syslog', '--syslog-socket', '/nonexistent/log', '--no-bpf'], /^wasmshark: error: cannot use syslog socket \/nonexistent\/log: it does not exist \(is a syslog daemon running\?\)\n$/],
  ])('%j', async (args, message) => {
    const { run, exited } = start(args as string[]);
    expect(await exited).toBe(2);
    expect(run.stderr).toMatch(message as RegExp);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('says so when the metrics address is taken', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    try {
      const { run, exited } = start(['watch', '--no-bpf', '--metrics', `127.0.0.1:${port}`]);
      expect(await exited).toBe(2);
      expect(run.stderr).toBe(`wasmshark: error: cannot serve metrics on 127.0.0.1:${port}: address in use\n`);
    } finally {
      server.close();
    }
  });
});

describeBpf('watch --all-runtimes --format ndjson --output-dir', () => {
  it('judges each runtime on its own: alerts as NDJSON with the right pid and runtime, a report each', async () => {
    const dir = path.join(tmp, 'reports');
    fs.mkdirSync(dir);
    // running before the watch: found by its one scan of /proc, reported when the watch ends
    const before = spawn(process.execPath, [path.join(WORKLOADS, 'wasm-idle.js')], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(before);
    await sleep(300);

    const watcher = start(['watch', '--all-runtimes', '--format', 'ndjson', '--output-dir', dir]);
    // the banner comes once the probes are attached and the host has been scanned
    await until('the banner', () => /New runtimes\s+: from the kernel's exec events/.test(watcher.run.stderr));

    // Node (one starts a shell), Bun and Deno, started after it: found from the kernel's exec events
    const shell = spawn(process.execPath, [path.join(WORKLOADS, 'wasm-then-shell.js'), '500'], { stdio: 'ignore' });
    const bun = spawn(BUN, [path.join(WORKLOADS, 'wasm-loop.js'), '1500'], { stdio: 'ignore' });
    // DENO_NO_UPDATE_CHECK: Deno otherwise asks its release server for a newer version, an outbound connection of its own
    const deno = spawn(DENO, ['run', '--no-prompt', path.join(WORKLOADS, 'deno-wasm.mjs'), 'loop', '1500'], {
      stdio: 'ignore',
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
    });
    children.push(shell, bun, deno);
    const ours = new Map<number, string>([
      [before.pid!, 'node'],
      [shell.pid!, 'node'],
      [bun.pid!, 'bun'],
      [deno.pid!, 'deno'],
    ]);
    const exiting = [shell.pid!, bun.pid!, deno.pid!];
    const verdictOf = (pid: number) => watcher.lines().find((l) => l.type === 'verdict' && l.pid === pid);
    await until('the verdicts of the runtimes that exit', () => exiting.every((pid) => verdictOf(pid)));
    watcher.run.p.kill('SIGTERM');
    expect(await watcher.exited).toBe(0);

    // stdout is NDJSON and nothing else; the console went to stderr
    const lines = watcher.lines();
    expect(watcher.run.stdout.endsWith('\n')).toBe(true);
    expect(watcher.run.stderr).toMatch(/^wasmshark .* watching the WebAssembly runtimes on this host\n/);
    expect(watcher.run.stderr).toContain(`+ node[${shell.pid}] started:`);
    for (const l of lines) {
      expect(l).toMatchObject({ schema_version: 1, hostname: os.hostname(), tool: 'wasmshark' });
      expect(new Date(l.time).toISOString()).toBe(l.time);
    }
    const mine = lines.filter((l) => ours.has(l.pid));
    for (const l of mine) expect(l.runtime).toBe(ours.get(l.pid));

    // each found once, the right way
    const found = new Map(mine.filter((l) => l.type === 'runtime').map((l) => [l.pid, l.fields.found_by]));
    expect(found).toEqual(new Map([[before.pid, 'scan'], [shell.pid, 'exec'], [bun.pid, 'exec'], [deno.pid, 'exec']]));

    // the shell: an alert on the node runtime that started it, naming the shell's own pid
    const shellAlert = mine.find((l) => l.type === 'alert' && l.rule === 'process.shell');
    expect(shellAlert).toMatchObject({ pid: shell.pid, runtime: 'node', level: 'CRITICAL', category: 'PROCESS' });
    expect(shellAlert!.evidence).toContain('image=/bin/sh');
    expect(shellAlert!.fields.process.pid).not.toBe(shell.pid);
    expect(shellAlert!.output).toContain(`node[${shell.pid}]: Shell spawned: sh`);
    // the JITs' own code memory: recorded for each runtime, as INFO
    expect(mine.find((l) => l.type === 'alert' && l.pid === bun.pid && l.rule === 'memory.jit-expected')).toMatchObject({ level: 'INFO', runtime: 'bun' });
    // no other runtime of ours raised a HIGH or CRITICAL alert (as in the scenario corpus: a
    // runtime's own temp file in /tmp can be a MEDIUM file.drop, which leaves it CLEAN)
    const raised = mine.filter((l) => l.type === 'alert' && (l.level === 'HIGH' || l.level === 'CRITICAL') && l.pid !== shell.pid);
    expect(raised.map((l) => [l.pid, l.runtime, l.rule, l.evidence])).toEqual([]);

    // one report per runtime: <pid>-<starttime>.json, 0600, today's schema
    const ids = new Map(mine.filter((l) => l.type === 'runtime').map((l) => [l.pid, l.fields.id as string]));
    const reports = new Map<number, { verdict: string; end_reason: string; pid: number; target: { runtime: { name: string } } }>();
    for (const [pid, id] of ids) {
      const file = path.join(dir, `${id}.json`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const report = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(Object.keys(report).slice(0, 8)).toEqual(['pid', 'verdict', 'threat_score', 'bpf_used', 'duration', 'alerts', 'new_connections', 'rwx_regions']);
      expect(report.pid).toBe(pid);
      expect(report.target.runtime.name).toBe(ours.get(pid));
      expect(verdictOf(pid)).toMatchObject({ verdict: report.verdict, fields: { report: file } });
      reports.set(pid, report);
    }
    expect(['SUSPICIOUS', 'MALICIOUS']).toContain(reports.get(shell.pid!)!.verdict);
    for (const pid of [before.pid!, bun.pid!, deno.pid!]) expect([pid, reports.get(pid)!.verdict]).toEqual([pid, 'CLEAN']);
    for (const pid of exiting) expect(reports.get(pid)!.end_reason).toBe('target-exit');
    expect(reports.get(before.pid!)!.end_reason).toBe('interrupted');
  }, 180000);

  it('follows wasmtime embedded in Python: running at start, and a program that loads it later', async () => {
    const { python } = wasmtimeVenv();
    const host = path.join(WORKLOADS, 'wasmtime-host.py');
    const dir = path.join(tmp, 'reports-wasmtime');
    fs.mkdirSync(dir);
    const before = spawn(python, [host, 'loop', '500', '0'], { stdio: 'ignore' });
    children.push(before);
    // the library is mapped once the import is done: wait for it before the watch's one scan
    await until('wasmtime loaded before the watch', () => {
      try {
        return /_libwasmtime\.so/.test(fs.readFileSync(`/proc/${before.pid}/maps`, 'utf8'));
      } catch {
        return false;
      }
    });

    const watcher = start(['watch', '--all-runtimes', '--format', 'ndjson', '--output-dir', dir]);
    await until('the banner', () => /New runtimes\s+: from the kernel's exec events/.test(watcher.run.stderr));
    // python3 is no runtime at its exec: found once it has loaded wasmtime's library
    const later = spawn(python, [host, 'loop', '300', '12'], { stdio: 'ignore' });
    children.push(later);
    const verdictOf = (pid: number) => watcher.lines().find((l) => l.type === 'verdict' && l.pid === pid);
    await until('the verdict of the host that exits', () => verdictOf(later.pid!) !== undefined);
    watcher.run.p.kill('SIGTERM');
    expect(await watcher.exited).toBe(0);

    const lines = watcher.lines();
    const found = new Map(lines.filter((l) => l.type === 'runtime').map((l) => [l.pid, [l.runtime, l.fields.found_by]]));
    expect(found.get(before.pid!)).toEqual(['wasmtime', 'scan']);
    expect(found.get(later.pid!)).toEqual(['wasmtime', 'library']);
    expect(watcher.run.stderr).toMatch(new RegExp(`\\+ wasmtime\\[${later.pid}\\] loaded a runtime library: wasmtime 49\\.0\\.0 \\(Cranelift, [^)]*\\)\\) embedded in python3`));
    const serious = lines.filter((l) => l.type === 'alert' && (l.level === 'HIGH' || l.level === 'CRITICAL') && (l.pid === before.pid || l.pid === later.pid));
    expect(serious.map((l) => [l.pid, l.rule, l.evidence])).toEqual([]);
    for (const pid of [before.pid!, later.pid!]) {
      const report = JSON.parse(fs.readFileSync(verdictOf(pid)!.fields.report, 'utf8'));
      expect([pid, report.verdict, report.target.runtime]).toEqual([
        pid,
        'CLEAN',
        { name: 'wasmtime', engine: 'Cranelift', version: '49.0.0', jit: 'wx-strict', embedder: expect.stringMatching(/^python3/) },
      ]);
    }
  }, 120000);
});
