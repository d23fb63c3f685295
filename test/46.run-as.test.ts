/**
 * Launch mode runs the command as the user asked for, never with the
 * monitor's root by accident: real, effective and saved ids and the groups
 * read from the running process's /proc status, and the probes still follow
 * it from its first instruction.
 */
import * as fs from 'fs';
import type { KernelEvent } from '../src/events';
import { launch } from '../src/launch';
import { monitorCommand, type MonitorInfo } from '../src/monitor';
import { startProbes, type Probes } from '../src/probes';
import type { Report } from '../src/report';
import { describeBpf, sleep, trigger } from './helpers/env';
import { createTestUser, procIds, type TestUser } from './helpers/users';

/** Resolves once pid runs `exe` (the gate has exec'd the command). */
async function execd(pid: number, exe: string): Promise<void> {
  for (;;) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/exe`) === exe) return;
    } catch {
      throw new Error(`${pid} is gone before it ran ${exe}`);
    }
    await sleep(2);
  }
}

function environ(pid: number): Map<string, string> {
  const vars = new Map<string, string>();
  for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
    const eq = kv.indexOf('=');
    vars.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return vars;
}

describe('run-as options are checked before anything starts', () => {
  it.each([
    [{ gid: 0 }, /gid and groups need a uid/],
    [{ uid: -1 }, /uid must be an integer from 0 to/],
    [{ uid: 1.5 }, /uid must be an integer/],
    [{ uid: 4294967295 }, /uid must be an integer from 0 to 4294967294/],
    [{ uid: 65534, groups: 'x' as unknown as number[] }, /groups must be an array/],
    [{ uid: 3999999999 }, /uid 3999999999 has no entry in the user database: give its gid too/],
  ])('%j', (options, message) => {
    expect(() => monitorCommand('/bin/true', [], { bpf: false, ...options })).toThrow(message);
  });
});

describeBpf('a launched command runs as the user asked for', () => {
  let user: TestUser;
  beforeAll(() => {
    user = createTestUser('lib');
    trigger();
  });
  afterAll(() => user?.remove());

  it("uid alone: that user's gid and every group of theirs (initgroups), HOME, USER and LOGNAME; the report and ready say so", async () => {
    expect(user.groups.length).toBe(3); // its own group and two supplementary ones
    const m = monitorCommand(trigger(), ['sleep', '3000'], { uid: user.uid, timeout: 0, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: '/root', USER: 'root' } });
    const info = await new Promise<MonitorInfo>((resolve) => m.once('ready', resolve));
    expect(info.user).toEqual({ uid: user.uid, gid: user.gid, name: user.name, groups: user.groups });
    await execd(info.pid, trigger());
    const ids = procIds(info.pid);
    expect(ids.uid).toEqual([user.uid, user.uid, user.uid, user.uid]); // real, effective, saved, fs
    expect(ids.gid).toEqual([user.gid, user.gid, user.gid, user.gid]);
    expect(ids.groups).toEqual(user.groups);
    const env = environ(info.pid);
    expect([env.get('HOME'), env.get('USER'), env.get('LOGNAME'), env.get('PATH')]).toEqual([user.home, user.name, user.name, '/usr/bin:/bin']);
    // and it cannot gain privileges back through a setuid program
    expect(fs.readFileSync(`/proc/${info.pid}/status`, 'utf8')).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(fs.readFileSync(`/proc/${info.pid}/status`, 'utf8')).toMatch(/^CapEff:\s+0+$/m);
    const report = await m.stop();
    expect(report.target.user).toEqual({ uid: user.uid, gid: user.gid, name: user.name, groups: user.groups });
  });

  it('uid, gid and groups given: exactly those', async () => {
    const m = monitorCommand(trigger(), ['sleep', '3000'], { uid: 65534, gid: user.gid, groups: [user.groups[2], 65534], timeout: 0, stdio: 'ignore' });
    const info = await new Promise<MonitorInfo>((resolve) => m.once('ready', resolve));
    await execd(info.pid, trigger());
    const ids = procIds(info.pid);
    expect(ids.uid).toEqual([65534, 65534, 65534, 65534]);
    expect(ids.gid).toEqual([user.gid, user.gid, user.gid, user.gid]);
    expect(ids.groups).toEqual([user.groups[2], 65534].sort((a, b) => a - b));
    const report = await m.stop();
    expect(report.target.user).toEqual({ uid: 65534, gid: user.gid, name: 'nobody', groups: ids.groups });
  });

  it('without a uid the command runs as the monitor does (root here), and the report says so', async () => {
    const report: Report = await monitorCommand(trigger(), ['sleep', '1'], { timeout: 0, stdio: 'ignore' }).done;
    expect(report.target.user).toMatchObject({ uid: 0, gid: 0, name: 'root' });
  });

  it("is followed from its first instruction: a W+X mmap as the program's first act is caught, and the launch is no child alert", async () => {
    const events: KernelEvent[] = [];
    const m = monitorCommand(trigger(), ['wx', '1'], { uid: user.uid, timeout: 0, stdio: 'ignore' });
    m.on('event', (e) => {
      if ('timeNs' in e) events.push(e); // the kernel's: /proc passes report what exists, not when it started
    });
    const report = await m.done;
    expect(report.target).toMatchObject({ launched: true, exit_code: 0, exe: trigger(), user: { uid: user.uid } });
    expect(report.alerts.map((a) => a.title)).toEqual(['W+X mmap() via eBPF tracepoint']);
    expect(report.children).toEqual([]);
    const mine = events.filter((e) => e.pid === report.pid);
    expect(mine[0]).toMatchObject({ kind: 'exec', filename: trigger(), ok: true, uid: user.uid });
    // the loader mapping libc is seen too: nothing of the command ran unwatched
    expect(mine.some((e) => e.kind === 'mmap' && e.fd >= 0 && e.prot === 5)).toBe(true);
  });
});

describeBpf('launch() with a user, on the probes alone', () => {
  let probes: Probes;
  let user: TestUser;
  const seen: KernelEvent[] = [];
  beforeAll(() => {
    user = createTestUser('api');
    probes = startProbes();
    probes.on('event', (e) => seen.push(e));
  });
  afterAll(async () => {
    await probes?.stop();
    user?.remove();
  });

  it('the first event of the pid is the exec of the command, as that user', async () => {
    const { child, pid } = await launch(probes, trigger(), ['wx', '1'], { stdio: 'ignore', user: { uid: user.uid, gid: user.gid, groups: user.groups } });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    for (let i = 0; i < 1000 && !seen.some((e) => e.kind === 'exit' && e.pid === pid); i++) await sleep(5);
    const mine = seen.filter((e) => e.pid === pid);
    expect(mine[0]).toMatchObject({ kind: 'exec', filename: trigger(), ok: true, uid: user.uid });
    expect(mine.filter((e) => e.kind === 'exec')).toHaveLength(1);
    expect(mine.filter((e) => e.kind === 'mmap' && e.prot === 7 && e.fd === -1)).toHaveLength(1);
  });
});
