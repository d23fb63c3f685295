/**
 * Test environment: the compiled trigger, and whether BPF tests may run.
 * BPF tests need root; outside CI they skip without it, under CI=true a skip
 * would hide a failure, so they run (and fail) instead.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
const BUILD_DIR = path.join(ROOT, 'test', '.build');

export const isRoot = process.getuid?.() === 0;
export const inCI = process.env.CI === 'true' || process.env.CI === '1';
/** Run BPF tests when root; under CI always (a skip there is a failure). */
export const canRunBpf = isRoot || inCI;
export const describeBpf = canRunBpf ? describe : describe.skip;

/** Compiles a C file (test/fixtures/NAME.c, or a path from the root) once per content; returns the binary. */
export function buildFixture(nameOrPath: string, extraFlags: string[] = []): string {
  const source = nameOrPath.endsWith('.c')
    ? path.join(ROOT, nameOrPath)
    : path.join(ROOT, 'test', 'fixtures', `${nameOrPath}.c`);
  const name = path.basename(source, '.c');
  const hash = crypto
    .createHash('sha256')
    .update(fs.readFileSync(source))
    .update(extraFlags.join(' '))
    .digest('hex')
    .slice(0, 12);
  const out = path.join(BUILD_DIR, `${name}-${hash}`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(BUILD_DIR, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync('cc', ['-O2', '-Wall', '-pthread', source, '-o', tmp, ...extraFlags], { stdio: 'inherit' });
    fs.renameSync(tmp, out);
  }
  return out;
}

export function trigger(): string {
  return buildFixture('trigger');
}

/**
 * Whether this kernel runs the 32-bit syscall ABI from a 64-bit process:
 * with IA-32 emulation off at run time (ia32_emulation=0, or
 * CONFIG_IA32_EMULATION_DEFAULT_DISABLED), `int 0x80` dies with a general
 * protection fault. Tried once, unmonitored, in a child.
 */
export function ia32Emulation(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync(trigger(), ['int80'], { stdio: 'ignore', timeout: 10000 });
  if (r.status === 0) return { ok: true };
  const how = r.signal ? `died with ${r.signal}` : `exited ${String(r.status)}`;
  return { ok: false, reason: `int 0x80 ${how}: IA-32 emulation is off in this kernel` };
}

export interface Waiting {
  child: ChildProcess;
  pid: number;
  /** Let the process act; resolves with its exit code once it has exited. */
  go(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Starts `trigger --wait ARGS`: it does nothing until go(). */
export function startWaiting(args: string[]): Waiting {
  const child = spawn(trigger(), ['--wait', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (child.pid === undefined) throw new Error('trigger did not start');
  return {
    child,
    pid: child.pid,
    exited,
    go() {
      child.stdin!.end('go\n');
      return exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * This environment without sudo's variables: under `sudo npm test` the CLI
 * would otherwise launch commands as the invoking user and give its report
 * files to them. Tests about that set the variables themselves.
 */
export function withoutSudo(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { SUDO_UID: _uid, SUDO_GID: _gid, SUDO_USER: _user, SUDO_COMMAND: _command, ...rest } = env;
  return rest;
}

/** What the wasmtime venv holds: pinned, the version whose behaviour the tests and the README describe. */
const WASMTIME_REQUIREMENT = 'wasmtime==49.0.0';

/**
 * A Python venv with wasmtime installed by pip (test/.build/wasmtime-venv-HASH),
 * made once per requirement and Python; returns its python and the wheel's
 * C API library. Debian's python3 (with python3-venv, see scripts/setup.sh).
 */
export function wasmtimeVenv(): { python: string; library: string } {
  const base = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const hash = crypto.createHash('sha256').update(`${WASMTIME_REQUIREMENT}\n${fs.realpathSync(base)}`).digest('hex').slice(0, 12);
  const dir = path.join(BUILD_DIR, `wasmtime-venv-${hash}`);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(BUILD_DIR, { recursive: true });
    // made aside and renamed: test files running at once must not see a half-made venv
    const tmp = `${dir}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    execFileSync(base, ['-m', 'venv', tmp], { stdio: 'inherit' });
    execFileSync(path.join(tmp, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', WASMTIME_REQUIREMENT], { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another made it first
    }
  }
  const lib = path.join(dir, 'lib');
  const site = fs.readdirSync(lib).find((d) => d.startsWith('python3'));
  return { python: path.join(dir, 'bin', 'python'), library: path.join(lib, site ?? 'python3', 'site-packages', 'wasmtime', 'linux-x86_64', '_libwasmtime.so') };
}
