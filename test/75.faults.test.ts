/**
 * Faults: the target vanishing under a lookup, a reused pid, a full ring
 * buffer, no privilege for BPF, a full disk at the end, signals, and the
 * monitor itself killed with -9. Each must end in a complete report (or,
 * where none can be written, a clear exit) and leave nothing behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConsoleRenderer } from '../src/console';
import type { RuntimeEvent } from '../src/events';
import { parkedInRead } from '../src/launch';
import { monitor, type Monitor } from '../src/monitor';
import type { Report } from '../src/report';
import { describeBpf, ROOT, sleep, startWaiting, trigger, withoutSudo } from './helpers/env';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const NO_CAPS = ['--inh-caps=-all', '--bounding-set=-all'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `[prefix...] node dist/cli.js ARGS`; onStart sees the process and its output as it comes. */
function cli(args: string[], opts: { prefix?: string[]; onStdout?: (text: string, p: ChildProcess) => void; pauseStdout?: boolean; onStart?: (p: ChildProcess) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const argv = [...(opts.prefix ?? []), process.execPath, CLI, ...args];
    const p = spawn(argv[0], argv.slice(1), { env: { ...withoutSudo(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    if (opts.pauseStdout) p.stdout!.pause();
    else {
      p.stdout!.on('data', (d) => {
        stdout += d;
        opts.onStdout?.(stdout, p);
      });
    }
    opts.onStart?.(p);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Calls fn once, when the banner is out: the CLI is monitoring and its signal handlers are in place. */
function onBanner(fn: (p: ChildProcess) => void) {
  let done = false;
  return (text: string, p: ChildProcess) => {
    if (!done && /^Timeout {8}: /m.test(text)) {
      done = true;
      fn(p);
    }
  };
}

/** Blocks this thread (the event loop included) until pred() holds: deliveries queue up meanwhile. */
function blockUntil(pred: () => boolean, what: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 20000; i++) {
    if (pred()) return;
    Atomics.wait(cell, 0, 0, 1);
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (pred()) return;
    await sleep(5);
  }
  throw new Error(`gave up waiting for ${what}`);
}

function procState(pid: number): string | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}
const goneOrZombie = (pid: number) => {
  const s = procState(pid);
  return s === null || s === 'Z' || s === 'X';
};

/** `trigger ARGS` in the background, optionally behind a prefix (setpriv ...). */
function startTarget(args: string[], prefix: string[] = []): ChildProcess {
  const argv = [...prefix, trigger(), ...args];
  return spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
}

/** Everything a monitor says while it runs, and its report. */
async function run(m: Monitor, act: () => Promise<void> | void): Promise<{ report: Report; events: RuntimeEvent[]; errors: Error[]; warnings: string[] }> {
  const events: RuntimeEvent[] = [];
  const errors: Error[] = [];
  const warnings: string[] = [];
  m.on('event', (e) => events.push(e));
  m.on('error', (e) => errors.push(e));
  m.on('warning', (w) => warnings.push(w));
  await new Promise((resolve) => m.once('ready', resolve));
  await act();
  return { report: await m.done, events, errors, warnings };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-faults-'));
  trigger(); // compiled before anything is timed
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------

describe('the target exits between an event and its /proc lookup (/proc mode)', () => {
  it('a target that exits between two passes ends the run with a complete report and no error', async () => {
    const w = startWaiting(['sleep', '1']);
    const m = monitor(w.pid, { bpf: false, timeout: 0, pollIntervalMs: 10 });
    const { report, errors } = await run(m, async () => {
      await w.go();
    });
    expect(errors).toEqual([]);
    expect(report).toMatchObject({ pid: w.pid, end_reason: 'target-exit', bpf_used: false, verdict: 'CLEAN' });
  });
});

describe('stop() racing the target\'s exit', () => {
  /*
   * finish() runs a last /proc pass; when that pass finds the target gone it
   * calls stop('target-exit') again. That must not start a second finish()
   * (two 'end' events, and m.done resolving with a different report).
   */
  it('ends once: one end event, and stop() and done give the same report', async () => {
    const w = startWaiting(['sleep', '1']);
    const m = monitor(w.pid, { bpf: false, timeout: 0 });
    const ends: Report[] = [];
    m.on('end', (r) => ends.push(r));
    await new Promise((resolve) => m.once('ready', resolve));
    w.child.stdin!.end('go\n');
    blockUntil(() => goneOrZombie(w.pid), `exit of ${w.pid}`);
    const report = await m.stop(); // its last /proc pass finds the target gone
    expect(await m.done).toBe(report);
    expect(ends).toHaveLength(1);
  });
});

describeBpf('the target exits between an event and its /proc lookup (eBPF)', () => {
  it('events handled only after the target is gone still make a complete report, with no error', async () => {
    const w = startWaiting(['wx', '50']);
    await parkedInRead(w.pid, 5000);
    const m = monitor(w.pid, { timeout: 0 });
    const { report, errors, warnings, events } = await run(m, () => {
      w.child.stdin!.end('go\n');
      // Nothing is handled until the target has exited: every runtime, call-site and maps lookup finds it gone.
      blockUntil(() => goneOrZombie(w.pid), `exit of ${w.pid}`);
    });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    expect(events.filter((e) => e.kind === 'mmap')).toHaveLength(50);
    expect(report).toMatchObject({ end_reason: 'target-exit', verdict: 'MALICIOUS', rwx_regions: 50, bpf_used: true });
    expect(report.target).toMatchObject({ exit_code: 0, exit_signal: null });
    expect(report.alerts[0]).toMatchObject({ title: 'W+X mmap() via eBPF tracepoint', count: 50, pid: w.pid });
    expect(report.drops.total).toBe(0);
  });

  it('a child that has exec\'d and exited before its events are handled is reported with its program, arguments and exit code', async () => {
    const w = startWaiting(['fork-exec']);
    await parkedInRead(w.pid, 5000);
    const m = monitor(w.pid, { timeout: 0 });
    const { report, errors } = await run(m, () => {
      w.child.stdin!.end('go\n');
      blockUntil(() => goneOrZombie(w.pid), `exit of ${w.pid}`);
    });
    expect(errors).toEqual([]);
    expect(report.children).toEqual([expect.objectContaining({ ppid: w.pid, program: '/bin/echo', argv: ['echo', 'wasmshark-child', 'second-arg'], exit_code: 0 })]);
    expect(report.alerts.map((a) => a.title)).toEqual(['Child process spawned: echo']);
  });
});

// ---------------------------------------------------------------------------

describeBpf('pid reuse during a run', () => {
  /** Makes the next process created on the machine get `pid` (root: writes ns_last_pid); null if another took it first. */
  function spawnWithPid(pid: number, file: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess | null {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (fs.existsSync(`/proc/${pid}`)) return null;
      fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'], env });
      if (child.pid === pid) return child;
      child.kill('SIGKILL');
    }
    return null;
  }

  /**
   * The target forks a short-lived child C, which is gone before its fork is
   * handled; an unrelated process U, holding a secret in its environment and
   * an RWX region, is made to get C's pid, after the fork is handled or
   * before. Neither the kernel nor the /proc passes may take U for part of
   * the tree.
   */
  async function scenario(reuse: 'after the fork is handled' | 'before the fork is handled'): Promise<'pid taken' | { report: Report; events: RuntimeEvent[]; errors: Error[]; reused: number }> {
    const pidFile = path.join(tmp, `child-pid-${process.hrtime.bigint()}`);
    const target = spawn('sh', ['-c', 'read a; /bin/true & echo $! > "$1"; wait; read b', 'sh', pidFile], {
      stdio: ['pipe', 'ignore', 'inherit'],
      env: { PATH: process.env.PATH }, // no secrets of its own
    });
    await parkedInRead(target.pid!, 5000);
    const m = monitor(target.pid!, { timeout: 0, pollIntervalMs: 20 });
    let unrelated: ChildProcess | null = null;
    let reused = 0;
    const spawnUnrelated = () =>
      (unrelated = spawnWithPid(reused, trigger(), ['wx-keep', '60000'], { PATH: process.env.PATH, GITHUB_TOKEN: 'wsk-reuse-secret' }));
    try {
      const result = await run(m, async () => {
        let forkHandled = false;
        m.on('event', (e) => {
          if (e.kind === 'fork' && !e.thread && e.childPid === reused) forkHandled = true;
        });
        target.stdin!.write('go\n');
        // C runs and is reaped before its fork event is handled
        blockUntil(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'), 'the child pid');
        reused = Number(fs.readFileSync(pidFile, 'utf8'));
        blockUntil(() => !fs.existsSync(`/proc/${reused}`), `child ${reused} reaped`);
        if (reuse === 'before the fork is handled' && !spawnUnrelated()) {
          await m.stop(); // another process took the pid: try again with a new target
          return;
        }
        await waitFor(() => forkHandled, 'the fork event');
        if (reuse === 'after the fork is handled' && !spawnUnrelated()) {
          await m.stop();
          return;
        }
        // U has mapped its RWX region once it prints the address
        await new Promise((resolve, reject) => {
          unrelated!.stdout!.once('data', resolve);
          unrelated!.once('exit', () => reject(new Error('the process given the reused pid exited early')));
        });
        await m.stop(); // the last /proc pass runs now, with U at C's pid
      });
      return unrelated ? { ...result, reused } : 'pid taken';
    } finally {
      (unrelated as ChildProcess | null)?.kill('SIGKILL');
      target.kill();
      fs.rmSync(pidFile, { force: true });
    }
  }

  async function notFollowed(reuse: Parameters<typeof scenario>[0]): Promise<void> {
    let outcome: Awaited<ReturnType<typeof scenario>> = 'pid taken';
    for (let i = 0; i < 5 && outcome === 'pid taken'; i++) outcome = await scenario(reuse);
    if (outcome === 'pid taken') throw new Error('could not make a process reuse the child pid (another process kept taking it)');
    const { report, events, errors, reused } = outcome;
    expect(errors).toEqual([]);
    expect(report.children.find((c) => c.pid === reused)).toMatchObject({ program: '/bin/true', exit_code: 0 });
    // the kernel: no W+X mapping of U; /proc: neither U's secret nor its RWX region, nor U as a process
    const fromU = events.filter((e) => e.pid === reused && ((e.kind === 'mmap' && e.prot === 7) || ['env', 'file', 'rwx-region', 'connection', 'process'].includes(e.kind)));
    expect(fromU).toEqual([]);
    // C's exec of /bin/true, and the target shell writing C's pid to its file in /tmp: nothing else
    expect(report.alerts.map((a) => a.rule)).toEqual(['process.child', 'file.drop']);
    expect(report.alerts[1].evidence).toMatch(/^path=\S+\/child-pid-\d+ fd=\d+ write /);
    expect(report.rwx_regions).toBe(0);
  }

  it('a process that gets the pid of an exited child after its fork was handled is not followed, by the kernel or by /proc', async () => {
    await notFollowed('after the fork is handled');
  });

  /*
   * On a fork the monitor hands the child's pid to the /proc source only
   * while the kernel still follows it: if the child is gone and its pid
   * reused, /proc would otherwise report the new, unrelated process's
   * environment, files and RWX regions as the target's.
   */
  it('a process that gets the pid of an exited child before its fork is handled is not followed either', async () => {
    await notFollowed('before the fork is handled');
  });
});

// ---------------------------------------------------------------------------

describeBpf('a full ring buffer', () => {
  it('is counted in the report and shown on the console; delivered + dropped is every event', async () => {
    const BURST = 200_000;
    const w = startWaiting(['wx', String(BURST)]);
    await parkedInRead(w.pid, 5000);
    const m = monitor(w.pid, { timeout: 0, ringBufferBytes: 16384 });
    const { report, errors, events } = await run(m, async () => {
      await w.go();
    });
    expect(errors).toEqual([]);
    const delivered = events.filter((e) => e.kind === 'mmap' && e.prot === 7 && e.fd === -1).length;
    expect(report.events.by_kind.mmap).toBe(delivered);
    expect(report.drops.by_kind.mmap).toBeGreaterThan(0);
    expect(report.drops.total).toBeGreaterThanOrEqual(report.drops.by_kind.mmap);
    expect(delivered + report.drops.by_kind.mmap).toBe(BURST);
    expect(report.drops.malformed).toBe(0);
    // and it is an attack on the monitor, not only a counter
    expect(report.alerts.find((a) => a.rule === 'monitor.blinded')).toMatchObject({ level: 'HIGH', category: 'MONITOR', count: report.drops.total });
    expect(report.coverage).toMatchObject({ level: 'partial', drops: report.drops.total });

    let text = '';
    const sink = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    new ConsoleRenderer(sink, sink, { colour: false, progress: false, timeout: 0 }).summary(report, null);
    expect(text).toContain(`\nDropped events : ${report.drops.total} (ring buffer full; counted, see report)\n`);
    expect(text).toContain(`\nCoverage       : partial (${report.drops.total} events dropped (ring buffer full))\n`);
  });
});

// ---------------------------------------------------------------------------

describeBpf('eBPF cannot load', () => {
  it('as an unprivileged user: one warning line, then /proc polling to a complete report', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-nobody-'));
    fs.chmodSync(dir, 0o777);
    const target = startTarget(['sleep', '30000'], ['setpriv', ...NOBODY, ...NO_CAPS]);
    try {
      await waitFor(() => procState(target.pid!) !== null && fs.readlinkSync(`/proc/${target.pid}/exe`).endsWith(path.basename(trigger())), 'the target to exec');
      const out = path.join(dir, 'r.json');
      const r = await cli(['--pid', String(target.pid), '--bpf', '--output', out], {
        prefix: ['setpriv', ...NOBODY, ...NO_CAPS],
        onStdout: onBanner(() => target.kill()),
      });
      expect(r.code).toBe(0);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines).toEqual([expect.stringMatching(/^wasmshark: warning: eBPF probes need root .*; using \/proc polling$/)]);
      expect(r.stdout).toMatch(/^Probes {9}: \/proc polling$/m);
      expect(r.stdout).toMatch(/^eBPF Active {4}: ✗ \/proc polling only$/m);
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
      expect(report).toMatchObject({ pid: target.pid, bpf_used: false, mode: 'proc', end_reason: 'target-exit' });
      expect(fs.statSync(out).uid).toBe(65534);
    } finally {
      target.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('as root without capabilities: one warning naming the kernel\'s refusal, then /proc polling; bpf_error in the report', async () => {
    const target = startTarget(['sleep', '30000']);
    try {
      const out = path.join(tmp, 'nocaps.json');
      const r = await cli(['--pid', String(target.pid), '--bpf', '--output', out], {
        prefix: ['setpriv', ...NO_CAPS],
        onStdout: onBanner(() => target.kill()),
      });
      expect(r.code).toBe(0);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines).toEqual([expect.stringMatching(/^wasmshark: warning: eBPF unavailable \(cannot load BPF programs: Operation not permitted .*\); falling back to \/proc polling$/)]);
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
      expect(report).toMatchObject({ bpf_used: false, mode: 'proc', end_reason: 'target-exit' });
      expect(report.bpf_error).toMatch(/^cannot load BPF programs: Operation not permitted/);
      expect(report.coverage.level).toBe('partial');
      expect(report.coverage.reasons).toEqual([`/proc polling only: eBPF unavailable (${report.bpf_error})`]);
      expect(r.stdout).toMatch(/^Coverage {7}: partial \(\/proc polling only: eBPF unavailable \(cannot load BPF programs: Operation not permitted/m);
    } finally {
      target.kill();
    }
  });
});

// ---------------------------------------------------------------------------

describeBpf('the output disk is full when the report is written', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = fs.mkdtempSync(path.join(tmp, 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', mnt]);
  });
  afterAll(() => {
    execFileSync('umount', ['-l', mnt]);
  });

  it('the report goes to stderr as JSON, with one error line, and the exit status is 1', async () => {
    const target = startTarget(['sleep', '30000']);
    try {
      const out = path.join(mnt, 'r.json');
      const r = await cli(['--pid', String(target.pid), '--bpf', '--timeout', '0', '--output', out], {
        onStdout: onBanner(() => {
          // the path was checked when the CLI started; now nothing more fits
          const fd = fs.openSync(path.join(mnt, 'filler'), 'w');
          try {
            for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
          } catch (err) {
            expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
          } finally {
            fs.closeSync(fd);
          }
          target.kill();
        }),
      });
      expect(r.code).toBe(1);
      const start = r.stderr.indexOf('{\n');
      const end = r.stderr.indexOf('\n}\n') + 3;
      const report = JSON.parse(r.stderr.slice(start, end)) as Report;
      expect(report).toMatchObject({ pid: target.pid, end_reason: 'target-exit', bpf_used: true });
      expect(r.stderr.slice(0, start)).toBe('');
      expect(r.stderr.slice(end)).toBe(`wasmshark: error: cannot write report ${out}: ENOSPC; the report is above on stderr\n`);
      const summary = r.stdout.slice(r.stdout.indexOf('\nVerdict'));
      expect(summary).toMatch(/^Verdict {8}: CLEAN$/m);
      expect(summary).not.toMatch(/^Report {9}:/m); // the summary names no report file: none was written
      expect(fs.readdirSync(mnt)).toEqual(['filler']); // no temp file left behind
    } finally {
      target.kill();
    }
  });
});

// ---------------------------------------------------------------------------

describeBpf('signals', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s stops monitoring and still writes the report', async (signal) => {
    const target = startTarget(['sleep', '30000']);
    const out = path.join(tmp, `${signal}.json`);
    try {
      const r = await cli(['--pid', String(target.pid), '--bpf', '--timeout', '0', '--output', out], { onStdout: onBanner((p) => p.kill(signal)) });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(`wasmshark: ${signal}: stopping, writing the report (again to quit at once)\n`);
      expect(r.stdout).toMatch(/^Duration {7}: [\d.]+ s \(interrupted\)$/m);
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
      expect(report).toMatchObject({ pid: target.pid, end_reason: 'interrupted', bpf_used: true, verdict: 'CLEAN' });
      expect(procState(target.pid!)).not.toBeNull(); // an attached target is left running
    } finally {
      target.kill();
    }
  });

  /** Whether `signal` is still waiting to be delivered to pid (thread or process pending set). */
  function pending(pid: number, signal: number): boolean {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const bit = 1n << BigInt(signal - 1);
    return ['SigPnd', 'ShdPnd'].some((k) => (BigInt(`0x${new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm').exec(status)![1]}`) & bit) !== 0n);
  }

  it('a second SIGINT while stopping quits at once (130) without a report', async () => {
    const out = path.join(tmp, 'twice.json');
    // one distinct alert per child: far more output than a pipe holds
    const script = 'for i in $(seq 1 3000); do /bin/true "$i"; done';
    let cliProcess: ChildProcess | null = null;
    const running = cli(['--bpf', '--timeout', '0', '--output', out, '--as-root', '--', 'sh', '-c', script], {
      pauseStdout: true,
      onStart: (p) => (cliProcess = p),
    });
    const p = cliProcess! as ChildProcess;
    const pid = p.pid!;
    const blockedOnStdout = () => {
      try {
        return fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith('1 0x1 ');
      } catch {
        return false;
      }
    };
    let r: Run;
    try {
      // Nobody reads its stdout (our side stopped reading once its buffer filled): the CLI blocks in
      // write(1, ...) for good, its event loop cannot run, and each signal is delivered (not merged
      // with the next) before it can handle either.
      await waitFor(() => p.stdout!.readableLength >= p.stdout!.readableHighWaterMark && blockedOnStdout(), 'the CLI to block writing its alerts');
      const SIGINT = os.constants.signals.SIGINT;
      p.kill('SIGINT');
      await waitFor(() => !pending(pid, SIGINT), 'the first SIGINT to be delivered');
      p.kill('SIGINT');
      await waitFor(() => !pending(pid, SIGINT), 'the second SIGINT to be delivered');
      expect(blockedOnStdout()).toBe(true);
    } catch (err) {
      p.kill('SIGKILL');
      throw err;
    }
    let stdout = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stdout!.resume();
    r = await running;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe('wasmshark: SIGINT: stopping, writing the report (again to quit at once)\nwasmshark: SIGINT again: quitting without a report\n');
    expect(stdout).toMatch(/Child process spawned: true/);
    expect(stdout).not.toMatch(/^Verdict/m);
    expect(fs.existsSync(out)).toBe(false);
  });
});

// ---------------------------------------------------------------------------

describeBpf('the monitor killed with -9', () => {
  /** Kernel object ids the process holds, from its fds. */
  function heldIds(pid: number): { prog: number[]; link: number[]; map: number[] } {
    const ids = { prog: [] as number[], link: [] as number[], map: [] as number[] };
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      const id = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)$`, 'm').exec(info)![1]);
      if (target === 'anon_inode:bpf-prog') ids.prog.push(id('prog_id'));
      else if (target === 'anon_inode:bpf_link') ids.link.push(id('link_id'));
      else if (target === 'anon_inode:bpf-map') ids.map.push(id('map_id'));
    }
    return ids;
  }

  function kernelObjects(kind: 'prog' | 'link' | 'map'): Array<{ id: number; name?: string }> {
    return JSON.parse(execFileSync('bpftool', [kind, 'show', '--json'], { encoding: 'utf8' }));
  }

  it('leaves no program, link or map of its own in the kernel', async () => {
    const target = startTarget(['sleep', '30000']);
    let held: ReturnType<typeof heldIds> | null = null;
    try {
      const r = await cli(['--pid', String(target.pid), '--bpf', '--timeout', '0'], {
        onStdout: onBanner((p) => {
          held = heldIds(p.pid!);
          p.kill('SIGKILL');
        }),
      });
      expect(r.signal).toBe('SIGKILL');
    } finally {
      target.kill();
    }
    const ids = held! as ReturnType<typeof heldIds>;
    const progs = kernelObjects('prog').filter((p) => ids.prog.includes(p.id));
    // what it held were our programs (unless the kernel has already freed them): the three
    // sched hooks, the lean syscall tracepoints and the int 0x80 pair, one link each (the kernel keeps 15 characters of a name)
    for (const p of progs) expect(p.name).toMatch(/^(on_fork|on_exec|on_exit|lean_(enter|exit|compat)_\w+)$/);
    expect(ids.prog.length).toBeGreaterThan(5);
    expect(ids.link).toHaveLength(ids.prog.length);
    expect(ids.map.length).toBeGreaterThan(0);
    // links go with the last fd; programs and maps after an RCU grace period
    let left = { ...ids };
    for (let i = 0; i < 200; i++) {
      left = {
        prog: kernelObjects('prog').map((p) => p.id).filter((id) => ids.prog.includes(id)),
        link: kernelObjects('link').map((l) => l.id).filter((id) => ids.link.includes(id)),
        map: kernelObjects('map').map((m) => m.id).filter((id) => ids.map.includes(id)),
      };
      if (left.prog.length + left.link.length + left.map.length === 0) break;
      await sleep(50);
    }
    expect(left).toEqual({ prog: [], link: [], map: [] });
  });
});
