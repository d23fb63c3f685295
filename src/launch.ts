/**
 * Launch a command with the probes already following it, so nothing it does
 * from its first instruction is missed.
 *
 * Node cannot fork without exec, so the command starts behind a tiny shell
 * that blocks reading fd 3. Once the shell is parked in that read, its pid
 * joins the target set, and a newline on fd 3 lets it exec the command: the
 * exec itself and everything after it is seen. If the monitor dies first, the
 * read fails and the shell exits 126 instead of running the command unwatched.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'child_process';
import * as fs from 'fs';
import type { Probes } from './probes';

const GATE = 'read -r _ <&3 || exit 126; exec 3<&-; exec "$0" "$@"';
const READ_SYSCALL = '0 ';

export interface LaunchOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdin, stdout, stderr of the command (default: inherit all three). */
  stdio?: 'inherit' | 'pipe' | 'ignore' | ['inherit' | 'pipe' | 'ignore', 'inherit' | 'pipe' | 'ignore', 'inherit' | 'pipe' | 'ignore'];
}

export interface Launched {
  child: ChildProcess;
  /** The pid the command runs as (the gate shell execs into it). */
  pid: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until pid is blocked in read(2), e.g. a gate or a prompt: it will do nothing until fed. */
export async function parkedInRead(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8');
    } catch {
      return; // gone, or unreadable: addTarget will say which
    }
    if (text.startsWith(READ_SYSCALL)) return;
    await sleep(1);
  }
}

/**
 * Starts `command args` with `probes` following it from its first instruction
 * (with null, the command starts the same way, unfollowed: the /proc path).
 */
export async function launch(probes: Probes | null, command: string, args: string[], options: LaunchOptions = {}): Promise<Launched> {
  if (typeof command !== 'string' || command.length === 0) throw new TypeError('launch needs a command');
  const io = options.stdio ?? 'inherit';
  const stdio: StdioOptions = typeof io === 'string' ? [io, io, io, 'pipe'] : [...io, 'pipe'];
  const child = spawn('/bin/sh', ['-c', GATE, command, ...args], {
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
      await parkedInRead(pid, 5000);
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
