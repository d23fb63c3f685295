/**
 * The CLI as an analyst runs it through sudo: the launched command runs as
 * the invoking user (or --user, or root only when asked), the banner and the
 * report say who, and the report file belongs to the invoking user. Plain
 * root (a container) keeps root for the command, with one warning.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeDirectory, writeFileAtomic } from '../src/files';
import type { Report } from '../src/report';
import { describeBpf, ROOT, sleep, trigger, withoutSudo } from './helpers/env';
import { createTestUser, procIds, type TestUser } from './helpers/users';

const CLI = path.join(ROOT, 'dist', 'cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** /proc/PID/status ids of the launched command, read while it ran. */
  ids: ReturnType<typeof procIds> | null;
}

/**
 * Runs the CLI; with `readIds`, reads the launched command's ids from its
 * /proc status once it runs `trigger` (the pid comes from the banner).
 */
function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; prefix?: string[]; readIds?: boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const argv = [...(opts.prefix ?? []), process.execPath, CLI, ...args];
    const p: ChildProcess = spawn(argv[0], argv.slice(1), { env: { ...withoutSudo(), NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let ids: Run['ids'] = null;
    let reading: Promise<void> | null = null;
    p.stdout!.on('data', (d) => {
      stdout += d;
      const pid = /^Target {9}: pid (\d+) \(launched\)/m.exec(stdout)?.[1];
      if (opts.readIds && pid && !reading) {
        reading = (async () => {
          for (;;) {
            try {
              if (fs.readlinkSync(`/proc/${pid}/exe`) === trigger()) break;
            } catch {
              return;
            }
            await sleep(2);
          }
          ids = procIds(Number(pid));
        })();
      }
    });
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('close', async (code) => {
      await reading;
      resolve({ code, stdout, stderr, ids });
    });
  });
}

const sudoEnv = (u: { uid: number; gid: number; name: string }) => ({ SUDO_UID: String(u.uid), SUDO_GID: String(u.gid), SUDO_USER: u.name, SUDO_COMMAND: '/usr/bin/wasmshark' });

let tmp: string;
let user: TestUser;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-sudo-'));
  trigger();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('bad --user and --as-root: one line, exit 2', () => {
  it.each([
    [['--user', 'wsk-no-such-user', '--', 'true'], /^wasmshark: error: no such user: 'wsk-no-such-user'\n$/],
    [['--user', '3999999999', '--', 'true'], /^wasmshark: error: no such user: '3999999999'\n$/],
    [['--user', '-x', '--', 'true'], /^wasmshark: error: no such user: '-x'\n$/],
    [['--user', 'nobody', '--as-root', '--', 'true'], /--user and --as-root cannot be used together/],
    [['--user', 'nobody', '--pid', '1'], /--user is for launch mode \(-- COMMAND\)/],
    [['--as-root', '--pid', '1'], /--as-root is for launch mode/],
    [['--user'], /--user needs a user name or uid/],
    [['demo', '--user', 'nobody'], /demo takes no target/],
  ])('%j', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });
});

describeBpf('who the launched command runs as', () => {
  beforeAll(() => (user = createTestUser('cli')));
  afterAll(() => user?.remove());

  it('under sudo: the invoking user, with their groups; the banner and report say so; the report file is theirs, 0600', async () => {
    const out = path.join(tmp, 'sudo.json');
    const r = await cli(['--timeout', '0', '--output', out, '--', trigger(), 'sleep', '1500'], { env: sudoEnv(user), readIds: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.ids).toEqual({ uid: [user.uid, user.uid, user.uid, user.uid], gid: [user.gid, user.gid, user.gid, user.gid], groups: user.groups });
    expect(r.stdout).toMatch(new RegExp(`^User {11}: ${user.name} \\(uid ${user.uid}, gid ${user.gid}, groups ${user.groups.join(',')}\\)$`, 'm'));
    const st = fs.statSync(out);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([user.uid, user.gid, 0o600]);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
    expect(report.target.user).toEqual({ uid: user.uid, gid: user.gid, name: user.name, groups: user.groups });
    expect(report.target).toMatchObject({ launched: true, exit_code: 0 });
  });

  it('under sudo, a W+X mmap as the command\'s first act is still caught, and the launch is no child alert', async () => {
    const out = path.join(tmp, 'sudo-wx.json');
    const r = await cli(['--timeout', '0', '--output', out, '--', trigger(), 'wx', '1'], { env: sudoEnv(user) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[CRITICAL\] MEMORY  W\+X mmap\(\) via eBPF tracepoint/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
    expect(report.alerts.map((a) => a.rule)).toEqual(['memory.wx-mmap']);
    expect(report.target).toMatchObject({ exe: trigger(), exit_code: 0, user: { uid: user.uid } });
    expect(report).toMatchObject({ verdict: 'MALICIOUS', rwx_regions: 1 });
  });

  it('--user nobody, under sudo or not', async () => {
    for (const env of [{}, sudoEnv(user)]) {
      const out = path.join(tmp, 'nobody.json');
      const r = await cli(['--timeout', '0', '--output', out, '--user', 'nobody', '--', trigger(), 'sleep', '1000'], { env, readIds: true });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.ids).toEqual({ uid: [65534, 65534, 65534, 65534], gid: [65534, 65534, 65534, 65534], groups: [65534] });
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
      expect(report.target.user).toEqual({ uid: 65534, gid: 65534, name: 'nobody', groups: [65534] });
    }
  });

  it('--user by uid', async () => {
    const r = await cli(['--timeout', '0', '--user', String(user.uid), '--', trigger(), 'sleep', '1000'], { readIds: true });
    expect(r.code).toBe(0);
    expect(r.ids?.uid).toEqual([user.uid, user.uid, user.uid, user.uid]);
    expect(r.ids?.groups).toEqual(user.groups);
  });

  it('under sudo, --as-root keeps root, without a warning', async () => {
    const r = await cli(['--timeout', '0', '--as-root', '--', trigger(), 'sleep', '1000'], { env: sudoEnv(user), readIds: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.ids?.uid).toEqual([0, 0, 0, 0]);
    expect(r.stdout).toMatch(/^User {11}: root \(uid 0, gid 0/m);
  });

  it('root without sudo: root, with one warning line that names --user', async () => {
    const out = path.join(tmp, 'root.json');
    const r = await cli(['--timeout', '0', '--output', out, '--', trigger(), 'sleep', '1000'], { readIds: true });
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^wasmshark: warning: the command runs as root .*--user NAME/)]);
    expect(r.ids?.uid).toEqual([0, 0, 0, 0]);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
    expect(report.target.user).toMatchObject({ uid: 0, name: 'root' });
    expect(fs.statSync(out).uid).toBe(0);
  });

  it('sudo run by root itself (SUDO_UID=0) is root without sudo', async () => {
    const r = await cli(['--timeout', '0', '--', trigger(), 'sleep', '10'], { env: { SUDO_UID: '0', SUDO_GID: '0' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^wasmshark: warning: the command runs as root/);
  });
});

describeBpf('report files under sudo', () => {
  beforeAll(() => (user = createTestUser('out')));
  afterAll(() => user?.remove());

  it('--pid: the report is the invoking user\'s, 0600; a symlink planted at the path is replaced, its target untouched', async () => {
    const target = spawn(trigger(), ['sleep', '1500'], { stdio: 'ignore' });
    try {
      const victim = path.join(tmp, 'victim');
      fs.writeFileSync(victim, 'keep me', { mode: 0o644 });
      const out = path.join(tmp, 'pid.json');
      fs.symlinkSync(victim, out);
      const r = await cli(['--pid', String(target.pid), '--timeout', '0', '--output', out], { env: sudoEnv(user) });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const st = fs.lstatSync(out);
      expect(st.isSymbolicLink()).toBe(false);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([user.uid, user.gid, 0o600]);
      const v = fs.statSync(victim);
      expect([fs.readFileSync(victim, 'utf8'), v.uid, v.mode & 0o777]).toEqual(['keep me', 0, 0o644]);
      expect((JSON.parse(fs.readFileSync(out, 'utf8')) as Report).pid).toBe(target.pid);
      expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp') || f.startsWith('.wasmshark-check'))).toEqual([]);
    } finally {
      target.kill();
    }
  });

  it('the output check fails before monitoring when the file cannot be given to the invoking user', async () => {
    // root without CAP_CHOWN: it can create the file but not give it away
    const r = await cli(['--pid', '1', '--no-bpf', '--output', path.join(tmp, 'nochown.json')], {
      env: sudoEnv(user),
      prefix: ['setpriv', '--inh-caps=-chown', '--bounding-set=-chown', '--'],
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`wasmshark: error: cannot write report ${path.join(tmp, 'nochown.json')}: cannot give it to uid ${user.uid}: permission denied\n`);
    expect(r.stdout).toBe('');
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.wasmshark-check') || f === 'nochown.json')).toEqual([]);
  });

  it('a malformed SUDO_UID is a one-line error', async () => {
    const r = await cli(['--pid', '1', '--no-bpf', '--timeout', '1'], { env: { SUDO_UID: '10x0' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("wasmshark: error: SUDO_UID is not a user id: '10x0'\n");
  });
});

describeBpf('files and directories for the analyst (needs root to give them away)', () => {
  beforeAll(() => (user = createTestUser('fil')));
  afterAll(() => user?.remove());
  const owner = () => ({ uid: user.uid, gid: user.gid });

  it('a new directory is made theirs, 0700; files written into it are theirs, 0600, replaced atomically', () => {
    const dir = path.join(tmp, 'outdir');
    makeDirectory(dir, { owner: owner() });
    const st = fs.lstatSync(dir);
    expect([st.isDirectory(), st.uid, st.gid, st.mode & 0o777]).toEqual([true, user.uid, user.gid, 0o700]);
    const file = path.join(dir, 'alerts.ndjson');
    writeFileAtomic(file, 'one\n', { owner: owner() });
    writeFileAtomic(file, 'two\n', { owner: owner() });
    const f = fs.statSync(file);
    expect([fs.readFileSync(file, 'utf8'), f.uid, f.gid, f.mode & 0o777]).toEqual(['two\n', user.uid, user.gid, 0o600]);
    expect(fs.readdirSync(dir)).toEqual(['alerts.ndjson']);
  });

  it('an existing directory is used as it is: its owner and mode are left alone', () => {
    const dir = path.join(tmp, 'existing');
    fs.mkdirSync(dir, { mode: 0o755 });
    makeDirectory(dir, { owner: owner() });
    const st = fs.statSync(dir);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o755]);
  });

  it('a symlink at the directory path is refused, and what it points to is not touched', () => {
    const real = path.join(tmp, 'real-dir');
    fs.mkdirSync(real, { mode: 0o755 });
    const link = path.join(tmp, 'link-dir');
    fs.symlinkSync(real, link);
    expect(() => makeDirectory(link, { owner: owner() })).toThrow(/ELOOP|ENOTDIR/);
    const st = fs.statSync(real);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o755]);
  });
});
