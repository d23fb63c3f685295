/**
 * Launch a command with the probes already following it, so nothing it does
 * from its first instruction is missed.
 *
 * Node cannot fork without exec, so the command starts behind a tiny shell
 * that blocks reading fd 3. Once the shell is parked in that read, its pid
 * joins the target set, and a newline on fd 3 lets it exec the command: the
 * exec itself and everything after it is seen. If the monitor dies first, the
 * read fails and the shell exits 126 instead of running the command unwatched.
 *
 * To run the command as another user, setpriv drops root *before* the gate
 * shell starts: the gate is then already that user when it joins the target
 * set, so the only exec the probes see at the start is the command's own, as
 * without a drop. (Node's own uid/gid spawn options would clear the
 * supplementary groups.)
 */
import { spawn, type ChildProcess, type StdioOptions } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Probes } from './probes';

const GATE = 'read -r _ <&3 || exit 126; exec 3<&-; exec "$0" "$@"';
const READ_SYSCALL = '0 ';

export interface LaunchOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdin, stdout, stderr of the command (default: inherit all three). */
  stdio?: 'inherit' | 'pipe' | 'ignore' | ['inherit' | 'pipe' | 'ignore', 'inherit' | 'pipe' | 'ignore', 'inherit' | 'pipe' | 'ignore'];
  /**
   * Run the command with these real, effective and saved ids and exactly these
   * groups (needs root unless they are this process's own). It also cannot gain
   * privileges through setuid programs (no_new_privs): a sample must not reuse
   * the analyst's cached sudo credentials.
   */
  user?: { uid: number; gid: number; groups: readonly number[] };
}

export interface Launched {
  child: ChildProcess;
  /** The pid the command runs as (the gate shell execs into it). */
  pid: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until pid is blocked in read(2), e.g. a gate or a prompt: it will do
 * nothing until fed. With `exe`, only once it runs that file (a process that
 * has yet to exec into it may block in a read of its own).
 */
export async function parkedInRead(pid: number, timeoutMs: number, exe?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8');
      if (exe !== undefined && fs.readlinkSync(`/proc/${pid}/exe`) !== exe) text = '';
    } catch {
      return; // gone, or unreadable: addTarget will say which
    }
    if (text.startsWith(READ_SYSCALL)) return;
    await sleep(1);
  }
}

const SETPRIV_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

function findSetpriv(): string {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...SETPRIV_DIRS];
  for (const dir of dirs) {
    const file = path.join(dir, 'setpriv');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  throw new Error('running a command as another user needs setpriv (util-linux), which is not installed');
}

/** The argv prefix that runs the rest as `user`, or [] when that changes nothing. */
function dropTo(user: NonNullable<LaunchOptions['user']>): string[] {
  const groups = [...user.groups].sort((a, b) => a - b);
  if (process.geteuid?.() !== 0) {
    const own = [...new Set([process.getegid!(), ...process.getgroups!()])].sort((a, b) => a - b);
    if (user.uid === process.geteuid?.() && user.gid === process.getegid?.() && groups.join() === own.join()) return [];
    throw new Error(`running a command as uid ${user.uid} needs root`);
  }
  return [
    findSetpriv(),
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    groups.length ? `--groups=${groups.join(',')}` : '--clear-groups',
    '--inh-caps=-all',
    '--no-new-privs',
    '--',
  ];
}

function readLink(file: string): string {
  try {
    return fs.readlinkSync(file);
  } catch {
    return '';
  }
}

let shell: string | undefined;
function shellPath(): string {
  return (shell ??= fs.realpathSync('/bin/sh'));
}

/**
 * Starts `command args` with `probes` following it from its first instruction
 * (with null, the command starts the same way, unfollowed: the /proc path).
 */
export async function launch(probes: Probes | null, command: string, args: string[], options: LaunchOptions = {}): Promise<Launched> {
  if (typeof command !== 'string' || command.length === 0) throw new TypeError('launch needs a command');
  const io = options.stdio ?? 'inherit';
  const stdio: StdioOptions = typeof io === 'string' ? [io, io, io, 'pipe'] : [...io, 'pipe'];
  const drop = options.user ? dropTo(options.user) : [];
  const argv = [...drop, '/bin/sh', '-c', GATE, command, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.cwd,
    env: options.env,
    stdio,
  });
  const gate = child.stdio[3] as NodeJS.WritableStream & { destroy(): void };
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${command}: ${err.message}`);
  }
  try {
    if (probes) {
      // behind setpriv: wait for the gate itself (setpriv's loader may block in a read of its own)
      await parkedInRead(pid, 5000, drop.length ? shellPath() : undefined);
      if (drop.length && readLink(`/proc/${pid}/exe`) !== shellPath()) {
        throw new Error(`cannot start ${command} as uid ${options.user!.uid}: setpriv did not start the gate`);
      }
      probes.addTarget(pid);
    }
  } catch (err) {
    gate.destroy();
    child.kill('SIGKILL');
    throw err;
  }
  gate.end('\n');
  return { child, pid };
}
