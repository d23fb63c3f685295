/**
 * What a verdict rests on: which probes ran, what they could and could not
 * see, and whether anything was lost. A CLEAN from /proc polling, or from a
 * run that dropped events, is not a CLEAN from a full eBPF run, and the
 * report and console say which one it is.
 */
import type { DropCounts, SyscallHooks } from './probes';

export interface Coverage {
  /** 'full': eBPF ran and nothing was lost; 'partial': see reasons. */
  level: 'full' | 'partial';
  /** Why coverage is partial (empty when full). */
  reasons: string[];
  probes: 'bpf' | 'proc';
  /** How syscalls were hooked (null without eBPF). */
  syscall_mode: SyscallHooks | null;
  /** The BPF programs that were attached. */
  hooks: string[];
  /** What this run could see. */
  sees: string[];
  /** What it could not. */
  blind_to: string[];
  /** Events lost (as in drops.total). */
  drops: number;
  /** The kernel the probes ran on, and which build of them it could load (null without eBPF). */
  kernel: {
    release: string;
    bpf_object: 'full' | 'legacy';
    int80: 'hooked' | 'not hooked' | 'not a syscall';
    /** Where the syscall hooks are (DESIGN.md "Backends"), and why not on the trampolines when they are not. */
    backend?: 'trampoline' | 'tracepoint' | 'raw-syscalls';
    backend_note?: string;
  } | null;
}

/** What the loader found out about the kernel (Probes.hooks). */
export interface KernelFacts {
  release: string;
  object: 'full' | 'legacy';
  /** int 0x80 makes a syscall in a 64-bit process here. */
  ia32: boolean;
  /** ... and those syscalls are hooked. */
  compat: boolean;
  /** Where the hooks are, and why they are not trampolines ("" when they are). */
  backend?: 'trampoline' | 'tracepoint' | 'raw-syscalls';
  backendNote?: string;
  /** Kernel functions the trampolines hook that this kernel lacks. */
  unhooked?: string[];
}

export interface CoverageInput {
  bpf: boolean;
  /** Why eBPF is not in use, when it was wanted. */
  bpfError: string | null;
  /** The syscall hooks in use (null without eBPF). */
  syscallMode: SyscallHooks | null;
  kernel: KernelFacts | null;
  hooks: string[];
  launched: boolean;
  drops: DropCounts | null;
  /** Kernel records that could not be decoded. */
  malformed: number;
  /** Where the syscall counts came from. */
  syscalls: 'bpf' | 'sampled' | 'none';
  pollIntervalMs: number;
  endedOnError: boolean;
  /** More reasons the run is partial, from the session (e.g. a runtime that exited before it was followed). */
  gaps?: string[];
}

export function assessCoverage(input: CoverageInput): Coverage {
  const reasons: string[] = [];
  const sees: string[] = [];
  const blind: string[] = [];
  const every = `every ${input.pollIntervalMs} ms`;
  const dropped = input.drops?.total ?? 0;

  if (input.bpf) {
    sees.push(
      'mmap, mprotect and pkey_mprotect that make memory executable (kernel, every call)',
      'execve and execveat with arguments and result (kernel)',
      'connect() with address, port and result, refused ones included (kernel)',
      'memfd_create and notable syscalls: ptrace, bpf, io_uring_setup, process_vm_*, module loading (kernel)',
      'the file behind executable memory: code from a memfd, a deleted file or /dev/shm (kernel)',
      'every file opened, by the path the kernel resolved, once per file and access: secrets read between passes, /proc/PID/mem (kernel)',
      input.syscallMode === 'exact'
        ? 'every syscall made from anonymous executable memory (kernel)'
        : 'the hooked syscalls made from anonymous executable memory (kernel)',
      'every process and thread created, followed before it first runs (kernel)',
    );
    if (input.kernel?.compat) sees.push('syscalls made through the 32-bit ABI (int 0x80), judged as their 64-bit twins (kernel)');
    sees.push(
      'rename, link, symlink, unlink and truncate by a followed process, at entry: persistence writes, wiped logs, links to secrets (kernel)',
      'packet and raw sockets made (kernel), and whether an executed program\'s stdin/stdout is a socket (reverse shells)',
    );
    const uringOps = input.hooks.includes('on_uring_complete');
    const uringNames = input.hooks.includes('on_uring_submit');
    if (uringOps) {
      sees.push(
        `io_uring requests judged as their syscalls, whatever ring made them (one made before monitoring or received over a socket included): OPENAT/OPENAT2 by the file opened, CONNECT by the socket's peer, SOCKET${uringNames ? ', RENAMEAT, LINKAT, SYMLINKAT and UNLINKAT by their names' : ''} (kernel)`,
      );
      blind.push("io_uring opens into a ring's fixed-file table (no fd: the file is not looked up)");
      if (!uringNames) blind.push(`rename, link, symlink and unlink submitted through io_uring (Linux ${input.kernel?.release ?? ''} has no io_uring_submit_req tracepoint)`);
    } else {
      blind.push(
        `operations submitted through io_uring (only io_uring_setup is seen): Linux ${input.kernel?.release ?? ''}'s io_uring tracepoints do not carry the request (6.0 on do), or io_uring is not built in`,
      );
    }
    blind.push(
      'reads, writes and sends through an fd already open, by syscall or io_uring (only opens are judged)',
      'symlinks in the directory part of a renamed, linked or removed name (the name is joined to the directory the kernel holds, not resolved)',
      'writes through a /proc/PID/mem fd or a shared mapping opened before monitoring (only opens and mappings are seen)',
    );
    if (input.kernel?.backend === 'trampoline') {
      sees.push('memory and connects on the kernel functions that do them, opens and the other syscalls on their x86_64 and i386 entry points: every syscall ABI, no task on the slow syscall path (trampolines)');
      if (input.kernel.unhooked?.length) blind.push(`what ${input.kernel.unhooked.join(', ')} would show: Linux ${input.kernel.release} has no such function to hook`);
    }
    if (input.kernel?.ia32 && !input.kernel.compat) blind.push('syscalls made through the 32-bit ABI (int 0x80): this kernel runs them and they were not hooked');
    if (input.kernel?.object === 'legacy') blind.push(`paths deeper than 32 directories, cut to their last part (Linux ${input.kernel.release} has no bpf_loop())`);
    if (input.syscallMode !== 'exact') blind.push('other syscalls made from anonymous executable memory (--syscalls exact checks every syscall)');
  } else {
    reasons.push(input.bpfError ? `/proc polling only: eBPF unavailable (${input.bpfError})` : '/proc polling only: eBPF not used');
    sees.push(`processes alive at a /proc pass (${every}), with executable and arguments`, 'RWX regions in /proc/PID/maps while they are mapped');
    blind.push(
      'children that execute and exit between two passes',
      'connect() itself: refused connections, and connections opened and closed between passes',
      'W+X memory made and unmapped between passes, and memory made executable after writing (mprotect)',
      'files opened and closed between passes: a secret read in between, /proc/PID/mem',
      'memfd_create, ptrace, bpf, io_uring_setup and other notable syscalls',
      'syscalls made from anonymous executable memory',
    );
  }
  sees.push(`environment variable names, open files and the tree's own TCP/UDP sockets (/proc, ${every})`);
  if (input.syscalls === 'bpf') sees.push('syscall counts, exact (kernel)');
  else if (input.syscalls === 'sampled') sees.push('syscall frequency, sampled from /proc/PID/task/*/syscall');
  if (!input.launched) blind.push('what the target did before monitoring started');

  if (dropped > 0) {
    reasons.push(`${dropped} events dropped (ring buffer full)`);
    blind.push('the events dropped: which kinds, not which events');
  }
  if (input.malformed > 0) reasons.push(`${input.malformed} kernel records could not be decoded`);
  if (input.endedOnError) reasons.push('monitoring ended on an error');
  reasons.push(...(input.gaps ?? []));

  return {
    level: reasons.length === 0 ? 'full' : 'partial',
    reasons,
    probes: input.bpf ? 'bpf' : 'proc',
    syscall_mode: input.bpf ? input.syscallMode : null,
    hooks: input.bpf ? [...input.hooks] : [],
    sees,
    blind_to: blind,
    drops: dropped,
    kernel:
      input.bpf && input.kernel
        ? {
            release: input.kernel.release,
            bpf_object: input.kernel.object,
            int80: !input.kernel.ia32 ? 'not a syscall' : input.kernel.compat ? 'hooked' : 'not hooked',
            ...(input.kernel.backend ? { backend: input.kernel.backend, backend_note: input.kernel.backendNote ?? '' } : {}),
          }
        : null,
  };
}
