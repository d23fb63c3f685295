/**
 * Writes into process memory that need no mprotect and no W+X mapping:
 * /proc/PID/mem opened for writing, ptrace pokes, process_vm_writev. The
 * kernel writes through page protections for them, so code can be patched
 * where it lies. Another process is named with its command line, read when
 * the event arrives.
 */
import type { Finding } from '../alerts';
import type { OpenEvent, SyscallEvent } from '../events';
import { argvText, hex } from './format';

export interface InjectionContext {
  /** Another process's command line: now, or as last seen if it is gone ([] if unknown). */
  commandLine(pid: number): string[];
}

const PTRACE_REQUESTS: Record<number, string> = {
  4: 'PTRACE_POKETEXT',
  5: 'PTRACE_POKEDATA',
  16: 'PTRACE_ATTACH',
  0x4206: 'PTRACE_SEIZE',
};

/**
 * The process a /proc/PID/mem file belongs to: the directory it sits in,
 * from the kernel's own dentries (so /proc/self, relative opens and dfds are
 * resolved already). /proc/PID/task/TID/mem counts as PID's.
 */
export function procMemTarget(path: string): number | null {
  const m = /(?:^|\/)(\d+)\/(?:task\/\d+\/)?mem$/.exec(path);
  return m ? Number(m[1]) : null;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The target for the evidence, and a short name for the title. */
function describe(target: number, self: number, ctx: InjectionContext): { evidence: string; name: string } {
  if (target === self) return { evidence: `target=${target} (itself)`, name: 'itself' };
  const argv = ctx.commandLine(target);
  if (argv.length === 0) return { evidence: `target=${target} cmdline=unknown`, name: `pid ${target}` };
  return { evidence: `target=${target} cmdline=${argvText(argv)}`, name: `${basename(argv[0]) || argv[0]} (pid ${target})` };
}

/** /proc/PID/mem opened: for writing, CRITICAL; another process's for reading, HIGH. */
export function procMemRules(e: OpenEvent, ctx: InjectionContext): Finding[] {
  if (!e.procMem) return [];
  const target = procMemTarget(e.file.path);
  if (target === null) return [];
  const self = target === e.pid;
  if (!e.write && self) return [];
  const t = describe(target, e.pid, ctx);
  const evidence = `${t.evidence} path=${e.file.path} fd=${e.fd} ${e.write ? 'read-write' : 'read-only'} syscall=${e.syscall} pid=${e.pid} tid=${e.tid} comm=${e.comm}`;
  if (e.write) {
    return [
      {
        rule: 'memory.proc-mem-write',
        key: `${e.pid}:${target}`,
        level: 'CRITICAL',
        category: 'MEMORY',
        title: self ? 'Own memory opened for writing through /proc/self/mem' : `Memory of another process opened for writing: ${t.name}`,
        description: 'writes through /proc/PID/mem go past page protections: code patched in place, with no mprotect and no W+X mapping',
        evidence,
        pid: e.pid,
      },
    ];
  }
  return [
    {
      rule: 'memory.proc-mem-read',
      key: `${e.pid}:${target}`,
      level: 'HIGH',
      category: 'MEMORY',
      title: `Memory of another process opened for reading: ${t.name}`,
      description: "reading another process's memory through /proc/PID/mem: credential and key theft",
      evidence,
      pid: e.pid,
    },
  ];
}

/**
 * ptrace pokes and attaches, process_vm_readv/writev: named with the other
 * process. null for any other syscall (judged by the notable-syscall rules).
 */
export function injectionRules(e: SyscallEvent, ctx: InjectionContext): Finding[] | null {
  if (e.compat) return null;
  const who = `pid=${e.pid} tid=${e.tid} comm=${e.comm}`;
  if (e.name === 'ptrace') {
    const [request, target, addr] = e.args;
    const name = PTRACE_REQUESTS[request];
    if (!name) return null;
    const t = describe(target, e.pid, ctx);
    if (request === 4 || request === 5) {
      return [
        {
          rule: 'process.ptrace-poke',
          key: `${e.pid}:${target}`,
          level: 'CRITICAL',
          category: 'PROCESS',
          title: `Writes into another process with ptrace(${name}): ${t.name}`,
          description: "a traced process's code or data overwritten — code injection that needs no mprotect in the target",
          evidence: `request=${name} ${t.evidence} addr=${hex(addr)} ${who}`,
          pid: e.pid,
        },
      ];
    }
    return [
      {
        rule: 'process.ptrace-attach',
        key: `${e.pid}:${target}`,
        level: 'HIGH',
        category: 'PROCESS',
        title: `Attaches to another process with ptrace: ${t.name}`,
        description: 'taking control of another process: debugging, or the first step of injecting code into it',
        evidence: `request=${name} ${t.evidence} ${who}`,
        pid: e.pid,
      },
    ];
  }
  if (e.name === 'process_vm_writev' || e.name === 'process_vm_readv') {
    const write = e.name === 'process_vm_writev';
    const t = describe(e.args[0], e.pid, ctx);
    return [
      {
        rule: `syscall.${e.name}`,
        key: `${e.pid}`,
        level: write ? 'CRITICAL' : 'HIGH',
        category: 'PROCESS',
        title: write ? `Writes another process's memory (process_vm_writev): ${t.name}` : `Reads another process's memory (process_vm_readv): ${t.name}`,
        description: write ? 'writing into a process memory directly: code injection' : 'reading a process memory directly: credential and key theft',
        evidence: `syscall=${e.name}(${e.nr}) ${t.evidence}${e.remoteAddr ? ` addr=${hex(e.remoteAddr)}` : ''} ${who}`,
        pid: e.pid,
      },
    ];
  }
  return null;
}
