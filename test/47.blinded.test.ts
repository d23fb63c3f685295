/**
 * Blinding the monitor is an attack, and a verdict says what it rests on: a
 * target that floods the ring buffer gets monitor.blinded (scored), and the
 * report's coverage is partial for a lossy or /proc-only run, full otherwise.
 */
import { spawn } from 'child_process';
import * as os from 'os';
import type { Alert } from '../src/alerts';
import { ConsoleRenderer } from '../src/console';
import { monitor, monitorCommand, type Monitor } from '../src/monitor';
import type { Report } from '../src/report';
import { buildFixture, describeBpf, ia32Emulation, sleep, trigger } from './helpers/env';

const flood = () => buildFixture('flood');

function summaryOf(report: Report): string {
  let text = '';
  const sink = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
  new ConsoleRenderer(sink, sink, { colour: false, progress: false, timeout: 0 }).summary(report, null);
  return text;
}

async function collect(m: Monitor): Promise<{ report: Report; alerts: Alert[]; errors: Error[] }> {
  const alerts: Alert[] = [];
  const errors: Error[] = [];
  m.on('alert', (a) => alerts.push({ ...a }));
  m.on('error', (e) => errors.push(e));
  const report = await m.done;
  return { report, alerts, errors };
}

beforeAll(() => {
  flood();
  trigger();
});

describeBpf('a target that floods the ring buffer', () => {
  it('raises monitor.blinded while it runs, scored, with what was lost; the report says coverage is partial', async () => {
    // 200,000 events into a 4 KiB ring buffer, then the target waits: the alert must come from the check during the run
    const m = monitorCommand(flood(), ['rx', '200000'], { timeout: 0, ringBufferBytes: 4096, stdio: 'ignore' });
    let pid = 0;
    m.once('ready', (info) => (pid = info.pid));
    const alerts: Alert[] = [];
    const blinded = new Promise<Alert>((resolve) =>
      m.on('alert', (a) => {
        alerts.push({ ...a });
        if (a.rule === 'monitor.blinded') resolve({ ...a });
      }),
    );
    const errors: Error[] = [];
    m.on('error', (e) => errors.push(e));
    const first = await blinded;
    expect(first).toMatchObject({ level: 'HIGH', category: 'MONITOR', rule: 'monitor.blinded' });
    expect(first.evidence).toMatch(/^dropped=\d+ mmap=\d+ .*first=\S+Z last=\S+Z$/);
    process.kill(pid, 'SIGUSR1'); // let the target go
    const report = await m.done;
    expect(errors).toEqual([]);
    expect(report.target.exit_code).toBe(0);

    expect(report.drops.by_kind.mmap).toBeGreaterThan(0);
    const alert = report.alerts.find((a) => a.rule === 'monitor.blinded')!;
    // one alert, restated with the final counts
    expect(report.alerts.filter((a) => a.rule === 'monitor.blinded')).toHaveLength(1);
    expect(alert).toMatchObject({ level: 'HIGH', category: 'MONITOR', count: report.drops.total, title: `Monitor blinded: ${report.drops.total} events dropped` });
    expect(alert.evidence).toContain(`dropped=${report.drops.total} mmap=${report.drops.by_kind.mmap}`);
    expect(alert.count).toBeGreaterThanOrEqual(first.count);
    // nothing else it did is an alert: the score is the blinding alone, as behaviour
    expect(report.alerts.map((a) => a.rule)).toEqual(['monitor.blinded']);
    expect(report.threat_score).toBeGreaterThanOrEqual(15);
    expect(report.verdict).not.toBe('CLEAN');

    expect(report.coverage).toMatchObject({ level: 'partial', probes: 'bpf', drops: report.drops.total });
    expect(report.coverage.reasons).toEqual([`${report.drops.total} events dropped (ring buffer full)`]);
    expect(summaryOf(report)).toContain(`\nCoverage       : partial (${report.drops.total} events dropped (ring buffer full))\n`);
  });

  it('a 200,000 W+X burst into a 16 KiB ring buffer: the W+X alert and monitor.blinded', async () => {
    const { report, errors } = await collect(monitorCommand(trigger(), ['wx', '200000'], { timeout: 0, ringBufferBytes: 16384, stdio: 'ignore' }));
    expect(errors).toEqual([]);
    expect(report.drops.by_kind.mmap).toBeGreaterThan(0);
    const rules = report.alerts.map((a) => a.rule);
    expect(rules).toContain('memory.wx-mmap');
    expect(rules).toContain('monitor.blinded');
    expect(report.coverage.level).toBe('partial');
  });

  it('a flood from one thread while another makes one W+X mapping: the W+X alert and monitor.blinded both appear', async () => {
    const { report, errors } = await collect(monitorCommand(flood(), ['wx-in-flood', '200000'], { timeout: 0, ringBufferBytes: 4096, stdio: 'ignore' }));
    expect(errors).toEqual([]);
    expect(report.target.exit_code).toBe(0); // the W+X mapping was made mid-flood
    expect(report.drops.by_kind.mmap).toBeGreaterThan(0);
    const rules = report.alerts.map((a) => a.rule);
    expect(rules).toContain('monitor.blinded');
    expect(rules).toContain('memory.wx-mmap');
    expect(report.verdict).toBe('MALICIOUS');
  });
});

describeBpf('coverage of a full eBPF run', () => {
  it('is full: the hooks attached, lean syscalls, nothing dropped; the console says so', async () => {
    const { report } = await collect(monitorCommand(trigger(), ['wx', '1'], { timeout: 0, stdio: 'ignore' }));
    expect(report.drops.total).toBe(0);
    expect(report.coverage).toMatchObject({ level: 'full', reasons: [], probes: 'bpf', syscall_mode: 'lean', drops: 0 });
    expect(report.coverage.hooks).toEqual(expect.arrayContaining(['lean_enter_mmap', 'lean_enter_execve', 'on_fork', 'on_exit']));
    expect(report.coverage.hooks).not.toContain('sys_enter');
    // this host's kernel (6.18) carries the request on its io_uring tracepoints: the requests are seen
    expect(report.coverage.hooks).toEqual(expect.arrayContaining(['on_uring_complete', 'on_uring_submit']));
    expect(report.coverage.sees).toContainEqual(expect.stringMatching(/^io_uring requests judged as their syscalls, .*OPENAT\/OPENAT2 .*CONNECT .*RENAMEAT/));
    expect(report.coverage.blind_to).not.toContainEqual(expect.stringMatching(/^operations submitted through io_uring/));
    expect(report.coverage.blind_to).not.toContain('what the target did before monitoring started'); // launched
    expect(report.alerts.map((a) => a.rule)).toEqual(['memory.wx-mmap']);
    expect(summaryOf(report)).toContain('\nCoverage       : full\n');
    // the kernel it ran on, and what it makes of int 0x80 there
    const ia32 = ia32Emulation().ok;
    expect(report.coverage.kernel).toEqual({ release: os.release(), bpf_object: 'full', int80: ia32 ? 'hooked' : 'not a syscall', backend: 'tracepoint', backend_note: expect.stringMatching(/^trampolines refused by this kernel: EPERM/) });
    const int80 = 'syscalls made through the 32-bit ABI (int 0x80), judged as their 64-bit twins (kernel)';
    if (ia32) expect(report.coverage.sees).toContain(int80);
    else expect(report.coverage.sees).not.toContain(int80);
    expect(report.coverage.blind_to.filter((b) => b.includes('int 0x80'))).toEqual([]);
  });

  it('with exact syscall hooks: every syscall is hooked, and the report says so', async () => {
    const { report } = await collect(monitorCommand(trigger(), ['wx', '1'], { timeout: 0, stdio: 'ignore', syscalls: 'exact' }));
    expect(report.coverage).toMatchObject({ level: 'full', syscall_mode: 'exact' });
    expect(report.coverage.hooks).toEqual(expect.arrayContaining(['sys_enter', 'sys_exit']));
    expect(report.coverage.sees).toContain('every syscall made from anonymous executable memory (kernel)');
  });

  it('an attached run says what happened before it started is not seen', async () => {
    const target = spawn(trigger(), ['sleep', '5000'], { stdio: 'ignore' });
    try {
      await sleep(100);
      const m = monitor(target.pid!, { timeout: 0 });
      await new Promise((resolve) => m.once('ready', resolve));
      const report = await m.stop();
      expect(report.coverage.level).toBe('full');
      expect(report.coverage.blind_to).toContain('what the target did before monitoring started');
    } finally {
      target.kill();
    }
  });
});

describe('coverage of a /proc-only run', () => {
  it('is partial, and lists what /proc polling cannot see', async () => {
    const { report } = await collect(monitorCommand(trigger(), ['sleep', '300'], { bpf: false, timeout: 0, stdio: 'ignore' }));
    expect(report.coverage).toMatchObject({ level: 'partial', probes: 'proc', syscall_mode: null, hooks: [], reasons: ['/proc polling only: eBPF not used'] });
    expect(report.coverage.blind_to).toContain('children that execute and exit between two passes');
    expect(report.alerts.map((a) => a.rule)).not.toContain('monitor.blinded');
    expect(summaryOf(report)).toContain('\nCoverage       : partial (/proc polling only: eBPF not used)\n');
  });
});
