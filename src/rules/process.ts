/** Child processes and fileless execution. */
import type { Finding } from '../alerts';
import type { ExecEvent, MemfdEvent, ProcProcessEvent } from '../events';
import { argvText } from './format';

const FD_PATH = /^\/(?:dev|proc\/(?:self|\d+))\/fd\/(\d+)/;
const AT_EMPTY_PATH = 0x1000;

export interface ProcessContext {
  /** The exec that starts the monitored command in launch mode: not an alert. */
  isLaunchExec(e: ExecEvent): boolean;
  /** Name given to memfd_create for this process's fd, if seen. */
  memfdName(pid: number, fd: number): string | undefined;
}

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

function fileless(program: string, argv: string[], evidence: string, pid: number): Finding {
  return {
    rule: 'process.fileless',
    key: `${program}\u0000${argv.join('\u0000')}`,
    level: 'CRITICAL',
    category: 'PROCESS',
    title: 'Fileless execution from an in-memory file (memfd)',
    description: 'a program was executed from memory, leaving no file on disk',
    evidence,
    pid,
  };
}

/** Command interpreters: a WASM runtime has no business starting one. */
const SHELLS = /^(?:sh|bash|dash|zsh|ksh|mksh|ash|csh|tcsh|fish|busybox)$/;

/** Interpreters that can serve a remote caller as a shell does. */
const INTERPRETERS = /^(?:python[\d.]*|perl|ruby|php[\d.]*|lua[\d.]*|node|nodejs|awk|gawk|busybox)$/;

function child(program: string, argv: string[], evidence: string, pid: number, networkTools?: ReadonlySet<string>): Finding {
  const name = basename(program) || program;
  if (networkTools?.has(name)) {
    return {
      rule: 'process.network-tool',
      key: `${program}\u0000${argv.join('\u0000')}`,
      level: 'HIGH',
      category: 'PROCESS',
      title: `Network tool executed: ${name}`,
      description: 'a program that fetches, sends or relays data over the network was started under the WASM runtime — downloading a payload, exfiltrating or opening a tunnel',
      evidence,
      pid,
    };
  }
  if (SHELLS.test(name)) {
    return {
      rule: 'process.shell',
      key: `${program}\u0000${argv.join('\u0000')}`,
      level: 'CRITICAL',
      category: 'PROCESS',
      title: `Shell spawned: ${name}`,
      description: 'a command interpreter was started under the WASM runtime — sandbox escape or a host function running commands',
      evidence,
      pid,
    };
  }
  return {
    rule: 'process.child',
    key: `${program}\u0000${argv.join('\u0000')}`,
    level: 'HIGH',
    category: 'PROCESS',
    title: `Child process spawned: ${name}`,
    description: 'the WASM runtime started another program',
    evidence,
    pid,
  };
}

/** A program whose stdin or stdout is a socket: a shell (or an interpreter) served to whoever is at the other end. */
function reverseShell(program: string, argv: string[], evidence: string, pid: number): Finding {
  const name = basename(program) || program;
  const shell = SHELLS.test(name) || INTERPRETERS.test(name);
  return {
    rule: 'process.reverse-shell',
    key: `${program}\u0000${argv.join('\u0000')}`,
    level: shell ? 'CRITICAL' : 'HIGH',
    category: 'PROCESS',
    title: shell ? `Reverse shell: ${name} with its stdin/stdout on a socket` : `Program with its stdin/stdout on a socket: ${name}`,
    description: 'the program reads its commands from, and writes its output to, a network connection: someone at the other end is driving it',
    evidence: `${evidence} stdio=socket`,
    pid,
  };
}

export function execRules(e: ExecEvent, ctx: ProcessContext, networkTools?: ReadonlySet<string>): Finding[] {
  if (!e.ok || ctx.isLaunchExec(e)) return [];
  const program = e.image || e.filename;
  const evidence = `argv=${argvText(e.argv)}${e.argc > e.argv.length ? ` (+${e.argc - e.argv.length} more)` : ''} image=${program} pid=${e.pid} ppid=${e.ppid}`;
  if (e.stdioSocket) return [reverseShell(program, e.argv, evidence, e.pid)];
  const fdMatch = FD_PATH.exec(e.image);
  const byFd = e.syscall === 'execveat' && e.filename === '' && (e.atFlags & AT_EMPTY_PATH) !== 0;
  if (fdMatch || byFd) {
    const fd = fdMatch ? Number(fdMatch[1]) : e.dfd;
    const name = ctx.memfdName(e.pid, fd);
    return [fileless(program, e.argv, `${evidence} fd=${fd}${name !== undefined ? ` memfd=${name}` : ''}`, e.pid)];
  }
  return [child(program, e.argv, evidence, e.pid, networkTools)];
}

/** A child found by polling /proc (the --no-bpf path). */
export function processRules(e: ProcProcessEvent): Finding[] {
  const program = e.exe || e.argv[0] || e.comm;
  const evidence = `argv=${argvText(e.argv)} image=${program} pid=${e.pid} ppid=${e.ppid}`;
  if (e.exe.startsWith('/memfd:')) return [fileless(program, e.argv, evidence, e.pid)];
  return [child(program, e.argv, evidence, e.pid)];
}

export function memfdRules(e: MemfdEvent): Finding[] {
  if (!e.ok) return [];
  return [
    {
      rule: 'process.memfd',
      key: `${e.pid}:${e.name}`,
      level: 'LOW',
      category: 'PROCESS',
      title: 'In-memory file created (memfd_create)',
      description: 'an anonymous in-memory file: the first step of fileless execution, also used for shared memory',
      evidence: `name=${e.name} fd=${e.result} pid=${e.pid}`,
      pid: e.pid,
    },
  ];
}
