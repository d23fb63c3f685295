/**
 * Syscalls a WebAssembly runtime has no use for. Each is reported as it is
 * issued, whatever it returns: the attempt is the finding. Writes into other
 * processes (ptrace pokes and attaches, process_vm_readv/writev) are judged
 * with the process they reach, in injection.ts.
 */
import type { Category, Finding, Level } from '../alerts';
import type { SyscallEvent } from '../events';

interface Notable {
  level: Level;
  category: Category;
  title: string;
  description: string;
  /** What the first arguments mean, for the evidence. */
  args: (a: number[]) => string;
}

const none = () => '';
const NOTABLE: Record<string, Notable> = {
  io_uring_setup: {
    level: 'MEDIUM',
    category: 'PROCESS',
    title: 'io_uring instance created',
    description: 'I/O submitted through io_uring bypasses the syscall hooks: what it does from here may go unseen',
    args: (a) => `entries=${a[0]}`,
  },
  ptrace: {
    level: 'HIGH',
    category: 'PROCESS',
    title: 'ptrace() called',
    description: 'debugging or injecting into a process, or anti-debugging (PTRACE_TRACEME)',
    args: (a) => `request=${a[0]} target=${a[1]}`,
  },
  init_module: { level: 'CRITICAL', category: 'PROCESS', title: 'Kernel module load attempted', description: 'loading code into the kernel: rootkit behaviour', args: none },
  finit_module: { level: 'CRITICAL', category: 'PROCESS', title: 'Kernel module load attempted', description: 'loading code into the kernel: rootkit behaviour', args: (a) => `fd=${a[0]}` },
  kexec_load: { level: 'CRITICAL', category: 'PROCESS', title: 'Kernel replacement attempted (kexec)', description: 'booting another kernel', args: none },
  kexec_file_load: { level: 'CRITICAL', category: 'PROCESS', title: 'Kernel replacement attempted (kexec)', description: 'booting another kernel', args: none },
  bpf: {
    level: 'HIGH',
    category: 'PROCESS',
    title: 'bpf() called',
    description: 'loading BPF programs or touching BPF maps: a way to blind or subvert kernel monitoring',
    args: (a) => `cmd=${a[0]}`,
  },
  userfaultfd: {
    level: 'MEDIUM',
    category: 'MEMORY',
    title: 'userfaultfd created',
    description: 'user-space page fault handling: a common primitive for exploiting kernel races',
    args: none,
  },
};

const AF_PACKET = 17;
const SOCK_RAW = 3;

/** A packet socket sees (and can forge) every frame on an interface; a raw socket, every IP packet of a protocol. */
function rawSocketRules(e: SyscallEvent): Finding[] {
  const [family, type, protocol] = e.args;
  const packet = family === AF_PACKET;
  const how = e.uring ? ' via=io_uring' : '';
  return [
    {
      rule: packet ? 'network.packet-socket' : 'network.raw-socket',
      key: `${e.pid}`,
      level: 'HIGH',
      category: 'NETWORK',
      title: packet ? 'Packet socket opened (AF_PACKET)' : 'Raw IP socket opened (SOCK_RAW)',
      description: packet
        ? 'capturing or injecting every frame on the host: sniffing credentials, spoofing, covert channels'
        : 'crafting IP packets by hand: scanning, spoofing, covert channels (ICMP tunnels)',
      evidence: `syscall=socket family=${family} type=${(type & 0xf) === SOCK_RAW ? 'SOCK_RAW' : type}${e.uring ? '' : ` protocol=${protocol}`}${how} pid=${e.pid} tid=${e.tid} comm=${e.comm}`,
      pid: e.pid,
    },
  ];
}

export function syscallRules(e: SyscallEvent): Finding[] {
  if (e.name === 'socket' && !e.compat) return rawSocketRules(e);
  if (e.compat) {
    return [
      {
        rule: 'syscall.compat',
        key: `${e.pid}`,
        level: 'HIGH',
        category: 'PROCESS',
        title: '32-bit syscall ABI used (int 0x80)',
        description: 'a 64-bit process making 32-bit syscalls is hiding from syscall monitors; in a 32-bit process they are not decoded',
        evidence: `first=i386 syscall ${e.nr} ip=0x${e.ip.toString(16)} pid=${e.pid} tid=${e.tid} comm=${e.comm}`,
        pid: e.pid,
      },
    ];
  }
  const n = NOTABLE[e.name];
  if (!n) return [];
  const args = n.args(e.args);
  return [
    {
      rule: `syscall.${e.name}`,
      key: `${e.pid}`,
      level: n.level,
      category: n.category,
      title: n.title,
      description: n.description,
      evidence: `syscall=${e.name}(${e.nr})${args ? ` ${args}` : ''} pid=${e.pid} tid=${e.tid} comm=${e.comm}`,
      pid: e.pid,
    },
  ];
}
