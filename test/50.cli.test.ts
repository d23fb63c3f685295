/**
 * The CLI end to end, as an analyst runs it: real targets, real files, the
 * seed's own demo.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { buildFixture, describeBpf, ROOT, sleep, trigger, withoutSudo } from './helpers/env';
import { expectScoreExplained } from './helpers/score';

const CLI = path.join(ROOT, 'dist', 'cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; onStart?: (p: ChildProcess) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...withoutSudo(), NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    opts.onStart?.(p);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function startBackground(file: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  return spawn(file, args, { stdio: 'ignore', env: env ?? process.env });
}

describe('usage errors: one line, non-zero, no stack trace', () => {
  it.each([
    [['--bogus'], /unknown option '--bogus'/],
    [[], /nothing to monitor/],
    [['--pid', 'abc'], /--pid expects a positive integer, got 'abc'/],
    [['--pid', '1', '--bpf', '--no-bpf'], /cannot be used together/],
    [['--pid', '1', '--timeout', '-3'], /--timeout expects a number of seconds/],
    [['--pid', '1', '--', 'true'], /either --pid or -- COMMAND/],
  ])('%j', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).toMatch(/^wasmshark: error: .*\nTry 'wasmshark --help' for usage\.\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('says no such process for a bad pid', async () => {
    const r = await cli(['--pid', '4194303', '--no-bpf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('wasmshark: error: no such process: 4194303\n');
  });

  it('refuses an unwritable --output before monitoring', async () => {
    const missing = await cli(['--pid', String(process.pid + 0), '--no-bpf', '--output', path.join(tmp, 'no', 'such', 'r.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^wasmshark: error: cannot write report .*: directory .* does not exist\n$/);
    const notDir = await cli(['--pid', '1', '--no-bpf', '--output', '/etc/hostname/r.json']);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toMatch(/is not a directory/);
    const procfs = await cli(['--pid', '1', '--no-bpf', '--output', '/proc/r.json']);
    expect(procfs.code).toBe(2);
    expect(procfs.stderr).toMatch(/^wasmshark: error: cannot write report \/proc\/r\.json: /);
    expect(procfs.stdout).toBe('');
  });

  it('prints help and version', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--pid PID/);
    expect(help.stdout).toMatch(/--no-bpf/);
    const version = await cli(['--version']);
    expect(version.stdout).toMatch(/^wasmshark \d+\.\d+\.\d+\n$/);
  });
});

describe('--no-bpf (/proc polling)', () => {
  it('finds a kept RWX region, and ends early with the report when the target exits', async () => {
    // alive for 4 s: long enough for a loaded machine to start the CLI (it said 'no such process' once at 1.5 s)
    const target = startBackground(trigger(), ['wx-keep', '4000']);
    await sleep(300);
    const out = path.join(tmp, 'proc.json');
    const r = await cli(['--pid', String(target.pid), '--no-bpf', '--timeout', '30', '--output', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[CRITICAL\] MEMORY  RWX memory region in \/proc maps/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(report).toMatchObject({ bpf_used: false, mode: 'proc', rwx_regions: 1, end_reason: 'target-exit' });
    expect(report.duration).toBeLessThan(30);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    // a MALICIOUS or a CLEAN from here rests on /proc alone, and says so
    expect(r.stdout).toMatch(/^Coverage {7}: partial \(\/proc polling only: eBPF not used\)$/m);
    expect(report.coverage).toMatchObject({ level: 'partial', probes: 'proc', hooks: [], reasons: ['/proc polling only: eBPF not used'] });
  });
});

describeBpf('eBPF mode', () => {
  it("reproduces the seed's W+X demo: --pid $PID --bpf --timeout 15", async () => {
    const wx = startBackground(buildFixture('wx_trigger'), []);
    await sleep(1000); // the seed's "sleep 1"
    const out = path.join(tmp, 'runtime.json');
    try {
      const r = await cli(['--pid', String(wx.pid), '--bpf', '--timeout', '15', '--output', out]);
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      const at = lines.indexOf('[CRITICAL] MEMORY  W+X mmap() via eBPF tracepoint');
      expect(at).toBeGreaterThanOrEqual(0);
      expect(lines[at + 1]).toBe('           PROT_WRITE|PROT_EXEC mapping — fileless shellcode staging');
      expect(lines[at + 2]).toMatch(/^ {11}prot=7\b/);
      expect(lines).toContain('Verdict        : MALICIOUS');
      expect(lines).toContain('Threat Score   : 100.0/100');
      expect(lines).toContain('eBPF Active    : ✓ kprobe/tracepoint');

      const report = JSON.parse(fs.readFileSync(out, 'utf8'));
      // the seed's fields, with the seed's types, first and in its order
      expect(Object.keys(report).slice(0, 8)).toEqual([
        'pid', 'verdict', 'threat_score', 'bpf_used', 'duration', 'alerts', 'new_connections', 'rwx_regions',
      ]);
      expect(report.pid).toBe(wx.pid);
      expect(report.verdict).toBe('MALICIOUS');
      expect(report.threat_score).toBe(100);
      expect(report.bpf_used).toBe(true);
      expect(typeof report.duration).toBe('number');
      expect(report.duration).toBeGreaterThanOrEqual(14.5);
      expect(typeof report.new_connections).toBe('number');
      expect(report.rwx_regions).toBeGreaterThanOrEqual(7);
      for (const a of report.alerts) {
        for (const k of ['level', 'category', 'title', 'description', 'evidence']) expect(typeof a[k]).toBe('string');
      }
      expect(report.alerts[0]).toMatchObject({ level: 'CRITICAL', category: 'MEMORY', title: 'W+X mmap() via eBPF tracepoint' });
      expect(report.alerts[0].count).toBeGreaterThanOrEqual(7);
      // the sum (one CRITICAL and a region every 2 s) decided, not the floor: the console says nothing more
      expectScoreExplained(report);
      expect(report.score_breakdown.sum).toBeGreaterThan(100);
      expect(report.score_breakdown.floor).toMatchObject({ points: 70, rule: 'memory.wx-mmap', level: 'CRITICAL' });
    } finally {
      wx.kill();
    }
  }, 40000);

  it('launch mode catches a W+X mapping made in the first millisecond', async () => {
    const out = path.join(tmp, 'launch.json');
    const r = await cli(['--bpf', '--timeout', '10', '--output', out, '--', trigger(), 'wx', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[CRITICAL\] MEMORY  W\+X mmap\(\) via eBPF tracepoint/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(report).toMatchObject({ verdict: 'MALICIOUS', end_reason: 'target-exit', rwx_regions: 1 });
    expect(report.target).toMatchObject({ launched: true, exit_code: 0 });
  });

  it('reports a child exec with program and arguments', async () => {
    const out = path.join(tmp, 'child.json');
    const r = await cli(['--bpf', '--output', out, '--', trigger(), 'fork-exec']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[HIGH\] PROCESS Child process spawned: echo\n.*\n.*argv=echo wasmshark-child second-arg image=\/bin\/echo/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(report.children).toEqual([expect.objectContaining({ program: '/bin/echo', argv: ['echo', 'wasmshark-child', 'second-arg'], exit_code: 0 })]);
  });

  it('names a Tor port and counts the connection', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(9001, '127.0.0.1', () => resolve());
    }).catch(() => undefined);
    const out = path.join(tmp, 'tor.json');
    try {
      const r = await cli(['--bpf', '--output', out, '--', trigger(), 'connect', '127.0.0.1', '9001']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\[HIGH\] NETWORK Connection to port 9001 \(Tor ORPort\)/);
      const report = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(report.alerts.map((a: { title: string }) => a.title)).toContain('Connection to port 9001 (Tor ORPort)');
      if (server.listening) {
        expect(report.new_connections).toBe(1);
        expect(report.connections).toEqual([expect.objectContaining({ protocol: 'tcp', address: '127.0.0.1', port: 9001 })]);
      }
    } finally {
      server.close();
    }
  });

  it('flags credentials in the environment without ever showing the value', async () => {
    const secret = 'wsk-SECRET-7f3a9c1e5b';
    const out = path.join(tmp, 'creds.json');
    const target = startBackground(trigger(), ['sleep', '3000'], { ...process.env, GITHUB_TOKEN: secret, AWS_SECRET_ACCESS_KEY: secret });
    try {
      await sleep(200);
      const r = await cli(['--pid', String(target.pid), '--bpf', '--timeout', '10', '--output', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\[HIGH\] CREDENTIALS Sensitive environment variable: GITHUB_TOKEN\n.*\n\s+key=GITHUB_TOKEN \(value redacted\)/);
      const text = fs.readFileSync(out, 'utf8');
      expect(JSON.parse(text).alerts.map((a: { title: string }) => a.title)).toEqual(
        expect.arrayContaining(['Sensitive environment variable: GITHUB_TOKEN', 'Sensitive environment variable: AWS_SECRET_ACCESS_KEY']),
      );
      for (const where of [r.stdout, r.stderr, text]) expect(where).not.toContain(secret);
    } finally {
      target.kill();
    }
  });

  it("a poke into another process's code is CRITICAL, naming it by pid, command line and address (attached while it repeats every 2 s)", async () => {
    // the corpus's one-act rows cover the other ways around W+X (test/62); this act also starts a child each time
    const target = startBackground(trigger(), ['--every', '2000', 'ptrace-poke']);
    const out = path.join(tmp, 'ptrace-poke.json');
    try {
      await sleep(1000);
      const r = await cli(['--pid', String(target.pid), '--bpf', '--timeout', '4', '--output', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\[CRITICAL\] PROCESS Writes into another process with ptrace\(PTRACE_POKETEXT\): sleep \(pid \d+\)/);
      const report = JSON.parse(fs.readFileSync(out, 'utf8'));
      const poke = report.alerts.find((a: { rule: string }) => a.rule === 'process.ptrace-poke');
      expect(poke).toMatchObject({ level: 'CRITICAL', evidence: expect.stringMatching(/^request=PTRACE_POKETEXT target=\d+ cmdline=sleep 5 addr=0x[0-9a-f]+ /) });
      const traced = Number(/target=(\d+)/.exec(poke.evidence)![1]);
      expect(report.children.map((c: { pid: number }) => c.pid)).toContain(traced);
      expect(report.verdict).toBe('MALICIOUS');
    } finally {
      target.kill('SIGKILL');
    }
  });

  it('the demo stops on SIGTERM like the rest: the sample running gets its verdict, the next does not start, nothing is left behind', async () => {
    // its own temp dir, readable by the user the samples run as: what the demo copies there must be gone after
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-demo-stop-'));
    fs.chmodSync(scratch, 0o755);
    try {
      const r = await cli(['demo', '--no-bpf'], {
        env: { TMPDIR: scratch },
        onStart: (p) => {
          let sent = false;
          p.stdout!.on('data', (d: Buffer) => {
            // as the first sample starts (it may be over before the signal lands: it runs ~0.1 s)
            if (!sent && d.toString().includes('sample 1')) {
              sent = true;
              p.kill('SIGTERM');
            }
          });
        },
      });
      expect(r.stderr).toMatch(/SIGTERM: stopping, ending the sample running \(its report follows\) and skipping the rest/);
      expect(r.code).toBe(130);
      // every sample that started has its verdict; the rest are counted as not run, and the miner never ran
      const ran = ['benign WebAssembly workload', 'WebAssembly cryptominer'].filter((name) => new RegExp(`^${name}\\s+: `, 'm').test(r.stdout));
      const notRun = Number(/\(stopped\)\s+: (\d) sample\(s\) not run/.exec(r.stdout)?.[1]);
      expect(ran.length + notRun).toBe(2);
      expect(ran).not.toContain('WebAssembly cryptominer');
      expect(fs.readdirSync(scratch)).toEqual([]);
      const left = spawnSync('pgrep', ['-f', scratch], { encoding: 'utf8' });
      expect(left.stdout).toBe('');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }, 60000);

  it('stops on SIGINT mid-run and still writes the report', async () => {
    const target = startBackground(trigger(), ['sleep', '20000']);
    const out = path.join(tmp, 'sigint.json');
    try {
      const r = await cli(['--pid', String(target.pid), '--bpf', '--timeout', '60', '--output', out], {
        onStart: (p) => {
          let sent = false;
          p.stdout!.on('data', (d: Buffer) => {
            if (!sent && d.toString().includes('Timeout')) {
              sent = true;
              setTimeout(() => p.kill('SIGINT'), 500);
            }
          });
        },
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/SIGINT: stopping, writing the report/);
      const report = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(report).toMatchObject({ end_reason: 'interrupted', verdict: 'CLEAN', bpf_used: true });
      expect(report.duration).toBeLessThan(60);
    } finally {
      target.kill();
    }
  });
});
