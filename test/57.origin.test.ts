/**
 * Which WebAssembly function did it: through the CLI, real runtimes, real
 * probes. A WASM function calls an import whose host function spawns a shell
 * or connects to a mining port; each alert names the function (from the
 * module's name section), the import and the host function with its file and
 * line, launched (the monitor turns the JIT map on) and attached (the
 * runtime was started with its map on). Without a map the report says why.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { describeBpf, ROOT, withoutSudo } from './helpers/env';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const DENO = path.join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc', 'deno');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { cwd?: string; onStdout?: (text: string, p: ChildProcess) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...withoutSudo(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
      opts.onStdout?.(stdout, p);
    });
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
let host: string;
let hostLine: number;
let denoLine: number;
let denoHost: string;
let pool: net.Server | null = null;
const POOL_PORT = 3333; // Stratum

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-origin-'));
  for (const f of ['wasm-import.js', 'wasm-host.js', 'wasm-host-deno.js']) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  // deno takes the module as an ES module
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bytes: Uint8Array = require(path.join(FIXTURES, 'wasm-import.js'));
  fs.writeFileSync(path.join(dir, 'wasm-import.mjs'), `export default new Uint8Array([${Array.from(bytes).join(',')}]);\n`);
  host = path.join(dir, 'wasm-host.js');
  denoHost = path.join(dir, 'wasm-host-deno.js');
  hostLine = fs.readFileSync(host, 'utf8').split('\n').findIndex((l) => l.startsWith('function hostRun')) + 1;
  denoLine = fs.readFileSync(denoHost, 'utf8').split('\n').findIndex((l) => l.startsWith('function hostRun')) + 1;
  // a local "pool": if another test holds the port, connecting to it is as good
  pool = await new Promise<net.Server | null>((resolve) => {
    const s = net.createServer((c) => c.end());
    s.once('error', () => resolve(null));
    s.listen(POOL_PORT, '127.0.0.1', () => resolve(s));
  });
});

afterAll(() => {
  pool?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The CLI attached to target (--bpf, report to out); once its banner is out, the target is told to go. */
function attachThenGo(target: ChildProcess, out: string): Promise<Run> {
  let sent = false;
  return cli(['--pid', String(target.pid), '--bpf', '--timeout', '60', '--output', out], {
    onStdout: (text) => {
      if (!sent && text.includes('Timeout')) {
        sent = true;
        target.stdin!.end('go\n');
      }
    },
  });
}

function readReport(file: string) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function alertOf(report: { alerts: Array<{ rule: string }> }, rule: string) {
  const a = report.alerts.find((x) => x.rule === rule);
  expect(a).toBeDefined();
  return a as { rule: string; origin?: Record<string, unknown> };
}

describeBpf('the WASM function behind an alert (CLI, real runtimes)', () => {
  it('launched node: a shell spawned from an import names the function, the import and the host function', async () => {
    const out = path.join(dir, 'spawn.json');
    const r = await cli(['--bpf', '--timeout', '60', '--output', out, '--', process.execPath, host, 'spawn'], { cwd: dir });
    expect(r.code).toBe(0);
    const report = readReport(out);
    const shell = alertOf(report, 'process.shell');
    expect(shell.origin).toMatchObject({
      wasm: { function: 'tick', index: 1 },
      import: { name: 'run', index: 0 },
      host: { function: 'hostRun', file: host, line: hostLine },
      note: null,
    });
    expect(r.stdout).toContain(`from wasm tick (func 1) → import run → hostRun (wasm-host.js:${hostLine})`);
    expect(report.symbols).toMatchObject({ enabled: true, note: null });
    // the map and V8's log the monitor caused are gone
    expect(fs.existsSync(`/tmp/perf-${report.pid}.map`)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('isolate-'))).toEqual([]);
  });

  it('launched node: a connection to a mining port from an import is traced to it', async () => {
    const out = path.join(dir, 'connect.json');
    const r = await cli(['--bpf', '--timeout', '60', '--output', out, '--', process.execPath, host, 'connect', String(POOL_PORT)], { cwd: dir });
    expect(r.code).toBe(0);
    const report = readReport(out);
    const port = alertOf(report, 'network.port');
    expect(port.origin).toMatchObject({ wasm: { function: 'tick', index: 1 }, import: { name: 'run' }, host: { function: 'hostRun', file: host, line: hostLine } });
    const frames = port.origin!.frames as Array<{ kind: string; symbol: string | null; object: string | null }>;
    expect(frames[0]).toMatchObject({ kind: 'native', symbol: expect.stringMatching(/^connect\+/) });
    expect(frames.map((f) => f.kind)).toEqual(expect.arrayContaining(['wasm', 'js', 'native']));
    expect(r.stdout).toContain(`from wasm tick (func 1) → import run → hostRun (wasm-host.js:${hostLine})`);
    // naming changes no verdict: the same rules fire as they always did
    expect(report.verdict).toBe('SUSPICIOUS');
  });

  it('--no-symbols: no origin, and no JIT map turned on', async () => {
    const out = path.join(dir, 'nosym.json');
    const r = await cli(['--bpf', '--no-symbols', '--timeout', '60', '--output', out, '--', process.execPath, host, 'spawn'], { cwd: dir });
    expect(r.code).toBe(0);
    const report = readReport(out);
    expect(alertOf(report, 'process.shell').origin).toBeUndefined();
    expect(report.symbols.enabled).toBe(false);
    expect(r.stdout).not.toMatch(/^\s+from /m);
  });

  it('attached to node started with --perf-basic-prof: the same, and its map is left alone', async () => {
    const target = spawn(process.execPath, ['--perf-basic-prof', '--interpreted-frames-native-stack', host, 'spawn', '0', 'wait'], { cwd: dir, stdio: ['pipe', 'ignore', 'inherit'] });
    const map = `/tmp/perf-${target.pid}.map`;
    const out = path.join(dir, 'attach.json');
    try {
      const r = await attachThenGo(target, out);
      expect(r.code).toBe(0);
      const shell = alertOf(readReport(out), 'process.shell');
      expect(shell.origin).toMatchObject({ wasm: { function: 'tick', index: 1 }, import: { name: 'run' }, host: { function: 'hostRun', line: hostLine } });
      expect(fs.existsSync(map)).toBe(true); // the runtime wrote it, not the monitor
    } finally {
      target.kill('SIGKILL');
      fs.rmSync(map, { force: true });
      for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('isolate-'))) fs.rmSync(path.join(dir, f));
    }
  });

  it('attached to node without a map: the report says why no WASM function is named', async () => {
    const target = spawn(process.execPath, [host, 'spawn', '0', 'wait'], { cwd: dir, stdio: ['pipe', 'ignore', 'inherit'] });
    const out = path.join(dir, 'nomap.json');
    try {
      const r = await attachThenGo(target, out);
      expect(r.code).toBe(0);
      const report = readReport(out);
      const shell = alertOf(report, 'process.shell');
      expect(shell.origin).toMatchObject({ wasm: null, note: expect.stringContaining('start node with --perf-basic-prof') });
      expect(report.symbols.note).toContain('start node with --perf-basic-prof to name WASM functions');
      expect(report.verdict).toBe('MALICIOUS'); // naming or not, the verdict stands
      expect(r.stdout).toMatch(/from .*start node with --perf-basic-prof/);
    } finally {
      target.kill('SIGKILL');
    }
  });

  it('a hostile JIT map changes no verdict and crashes nothing', async () => {
    const target = spawn(process.execPath, [host, 'spawn', '0', 'wait'], { cwd: dir, stdio: ['pipe', 'ignore', 'inherit'] });
    const map = `/tmp/perf-${target.pid}.map`;
    const out = path.join(dir, 'hostile.json');
    // one entry over the whole address space, terminal escapes, a bidi override, junk and an endless line
    fs.writeFileSync(map, `0 7fffffffffff JS:\u001b[2Jevil\u202e-1-turbofan\n${'\u0000\xff'.repeat(500)}\nzz zz zz\n1 1 ${'A'.repeat(100000)}`);
    try {
      const r = await attachThenGo(target, out);
      expect(r.code).toBe(0);
      const report = readReport(out);
      expect(report.verdict).toBe('MALICIOUS');
      expect(alertOf(report, 'process.shell')).toBeDefined();
      expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
      expect(fs.existsSync(map)).toBe(true); // not the monitor's to remove
    } finally {
      target.kill('SIGKILL');
      fs.rmSync(map, { force: true });
    }
  });

  it('a benign WASM workload launched with the maps on stays CLEAN', async () => {
    const out = path.join(dir, 'benign.json');
    const workload = path.join(ROOT, 'test', 'scenarios', 'workloads', 'wasm-module.js');
    const r = await cli(['--bpf', '--timeout', '60', '--output', out, '--', process.execPath, '-e', `const m=require(${JSON.stringify(workload)});const {sum}=new WebAssembly.Instance(new WebAssembly.Module(m)).exports;let s=0;for(let i=0;i<2000;i++)s+=sum(1000);console.log(s)`], { cwd: dir });
    expect(r.code).toBe(0);
    const report = readReport(out);
    expect(report.verdict).toBe('CLEAN');
    expect(report.alerts.filter((a: { level: string }) => a.level !== 'INFO' && a.level !== 'LOW')).toEqual([]);
  });

  describe('deno', () => {
    const haveDeno = fs.existsSync(DENO);
    // Deno's Rust code keeps no frame pointers: the kernel's walk stops in it, and the frames
    // of V8's code further up come from the stack words copied with the record. Its V8 calls
    // imports through a generic wrapper the map does not name: the import itself goes unnamed.
    it.each([['spawn', 'process.shell'], ['connect', 'network.port']])('launched deno: %s from an import', async (mode, rule) => {
      if (!haveDeno) return;
      const out = path.join(dir, `deno-${mode}.json`);
      const r = await cli(['--bpf', '--timeout', '60', '--output', out, '--', DENO, 'run', '-A', denoHost, mode, String(POOL_PORT)], { cwd: dir });
      expect(r.code).toBe(0);
      const report = readReport(out);
      const alert = alertOf(report, rule);
      expect(alert.origin).toMatchObject({ wasm: { function: 'tick', index: 1 }, host: { function: 'hostRun', file: `file://${denoHost}`, line: denoLine } });
      expect(r.stdout).toContain(`from wasm tick (func 1) → hostRun (wasm-host-deno.js:${denoLine})`);
      expect(fs.existsSync(`/tmp/perf-${report.pid}.map`)).toBe(false);
    });
  });
});
