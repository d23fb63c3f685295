/** The library API: monitor(pid) and monitorCommand() as platform code uses them. */
import { spawn } from 'child_process';
import type { Alert } from '../src/alerts';
import { monitor, monitorCommand, type MonitorInfo } from '../src/monitor';
import { describeBpf, sleep, trigger } from './helpers/env';

describe('options are checked before anything starts', () => {
  it.each([
    [{ timeout: -1 }, /timeout must be a number of seconds >= 0/],
    [{ timeout: Number.NaN }, /timeout must be/],
    [{ bpf: 'yes' as unknown as boolean }, /bpf must be true, false or 'auto'/],
    [{ pollIntervalMs: 1 }, /pollIntervalMs must be an integer >= 10/],
  ])('%j', (options, message) => {
    expect(() => monitor(process.ppid, options)).toThrow(message);
  });

  it('throws for a pid that does not exist, or for itself', () => {
    expect(() => monitor(4194303)).toThrow('no such process: 4194303');
    expect(() => monitor(process.pid)).toThrow('cannot monitor wasmshark itself');
    expect(() => monitor(0)).toThrow(/positive integer/);
  });
});

describe('/proc mode', () => {
  it('emits ready on a later tick, then ends with a report when stopped; stop twice is safe', async () => {
    const target = spawn(trigger(), ['sleep', '5000'], { stdio: 'ignore' });
    try {
      await sleep(100);
      const m = monitor(target.pid!, { bpf: false, timeout: 0 });
      let readyInfo: MonitorInfo | null = null;
      m.on('ready', (info) => (readyInfo = info));
      expect(readyInfo).toBeNull(); // not synchronously: listeners attach first
      await new Promise((resolve) => m.once('ready', resolve));
      expect(readyInfo).toMatchObject({ pid: target.pid, bpf: false, launched: false });
      const [a, b] = await Promise.all([m.stop(), m.stop()]);
      expect(a).toBe(b);
      expect(await m.done).toBe(a);
      expect(a).toMatchObject({ pid: target.pid, end_reason: 'stopped', bpf_used: false, verdict: 'CLEAN' });
    } finally {
      target.kill();
    }
  });
});

describeBpf('eBPF mode', () => {
  it("monitor(pid).on('alert') sees a W+X mapping; the report follows when the target exits", async () => {
    const target = spawn(trigger(), ['--wait', 'wx', '3'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const m = monitor(target.pid!, { timeout: 30 });
    const alerts: Alert[] = [];
    m.on('alert', (a) => alerts.push(a));
    await new Promise((resolve) => m.once('ready', resolve));
    target.stdin!.end('go\n');
    const report = await m.done;
    expect(alerts.map((a) => a.title)).toEqual(['W+X mmap() via eBPF tracepoint']);
    expect(report).toMatchObject({ end_reason: 'target-exit', rwx_regions: 3, threat_score: 100, verdict: 'MALICIOUS' });
    expect(report.alerts[0].count).toBe(3);
  });

  it('monitorCommand follows a command and its children from the start', async () => {
    const m = monitorCommand(trigger(), ['double-fork'], { stdio: 'ignore', timeout: 30 });
    const report = await m.done;
    expect(report.target).toMatchObject({ launched: true, exit_code: 0 });
    expect(report.children.map((c) => c.argv)).toContainEqual(['echo', 'grandchild']);
    expect(report.alerts.map((a) => a.title)).toContain('Child process spawned: echo');
  });
});
