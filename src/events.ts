/**
 * The typed event stream every source produces and the rules consume.
 * Kernel records (src/sources/bpf) and /proc observations (src/sources/proc)
 * both become RuntimeEvents.
 */

/** Fields every kernel event carries about the task that caused it. */
export interface TaskInfo {
  /** Process id (tgid). */
  pid: number;
  /** Thread id. */
  tid: number;
  /** Parent's process id. */
  ppid: number;
  uid: number;
  /** Task name (comm), as the process set it: attacker-controlled text. */
  comm: string;
  /** CLOCK_MONOTONIC nanoseconds (same clock as process.hrtime.bigint()). */
  timeNs: bigint;
  /** User-space instruction pointer of the syscall (0 when unknown). */
  ip: number;
  /** Where in the process the event came from, for alert-worthy events (eBPF only). */
  userStack?: UserStack;
}

/**
 * The file behind an fd or a mapping, as the kernel holds it when the syscall
 * returns: not a path string the caller passed, so relative paths, dfds,
 * symlinks and /proc/self are already resolved.
 */
export interface FileInfo {
  /**
   * Absolute path in the process's mount namespace. A memfd reads
   * '/memfd:NAME' (as in /proc/PID/maps); a truncated path keeps its tail
   * and has no leading '/'.
   */
  path: string;
  ino: number;
  /** The filesystem's device number (kernel encoding: major << 20 | minor). */
  dev: number;
  /** The filesystem's superblock magic (TMPFS_MAGIC, PROC_SUPER_MAGIC, ...). */
  magic: number;
  /** Directory entries naming it: 0 for a memfd, an O_TMPFILE file or an unlinked file. */
  nlink: number;
  /** st_mode: type and permission bits. */
  mode: number;
  /** An in-memory file from memfd_create. */
  memfd: boolean;
  /** In no directory (a memfd or another pseudo file): the path is its name alone. */
  detached: boolean;
  /** The path was longer than the record holds: its leading part is missing. */
  truncated: boolean;
}

/** Superblock magics the rules look for. */
export const TMPFS_MAGIC = 0x01021994;
export const PROC_SUPER_MAGIC = 0x9fa0;

export interface MmapEvent extends TaskInfo {
  kind: 'mmap';
  addr: number;
  length: number;
  prot: number;
  flags: number;
  fd: number;
  offset: number;
  /** Mapped address, or -errno. */
  result: number;
  ok: boolean;
  /** Words from the user stack at the syscall: the caller's return address is among the first. */
  stack: number[];
  /** The file mapped, looked up once the call returned; null for anonymous memory or a failed call. */
  file: FileInfo | null;
  /**
   * The same file is mapped right below: a segment of a loaded object, laid
   * out as a dynamic loader does (headers first, code after).
   */
  image: boolean;
}

export interface MprotectEvent extends TaskInfo {
  kind: 'mprotect';
  syscall: 'mprotect' | 'pkey_mprotect';
  addr: number;
  length: number;
  prot: number;
  pkey: number;
  /** vm_flags of the mapping before the call (VM_READ 1, VM_WRITE 2, VM_EXEC 4), null if unknown. */
  oldFlags: number | null;
  /** 0 or -errno. */
  result: number;
  ok: boolean;
  /** Words from the user stack at the syscall: the caller's return address is among the first. */
  stack: number[];
  /** The file the memory at addr maps; null for anonymous memory or a failed call. */
  file: FileInfo | null;
}

export interface ExecEvent extends TaskInfo {
  kind: 'exec';
  syscall: 'execve' | 'execveat';
  /** Path as passed to exec ('' for fexecve-style execveat on an fd). */
  filename: string;
  /** The first arguments (at most 8, each cut at 127 bytes). */
  argv: string[];
  /** How many arguments there were (counted up to 64). */
  argc: number;
  /** Path of the new image on success (e.g. /dev/fd/3 for an fd exec). */
  image: string;
  dfd: number;
  atFlags: number;
  /** False when the exec began before the process was followed (filename/argv unknown). */
  entrySeen: boolean;
  /** An exec by a process nobody follows, reported because the probes watch every exec (`watchExecs`). */
  host?: true;
  /** The new image's stdin or stdout is an inet/inet6 socket (not a unix socketpair): a program served over a network connection (a reverse shell). */
  stdioSocket?: boolean;
  ok: boolean;
  /** 0 or -errno. */
  result: number;
}

export type SocketFamily = 'inet' | 'inet6' | 'unix' | 'other';
export type SocketType = 'stream' | 'dgram' | 'raw' | 'seqpacket' | 'unknown';

export interface ConnectEvent extends TaskInfo {
  kind: 'connect';
  fd: number;
  family: SocketFamily;
  /** The raw address family number. */
  familyNumber: number;
  socketType: SocketType;
  /** Dotted IPv4, RFC 5952 IPv6, or '' for other families. */
  address: string;
  port: number;
  /** AF_UNIX path; abstract names are shown with a leading '@'. */
  path: string;
  /** 0, -EINPROGRESS for a non-blocking connect under way, or -errno. */
  result: number;
  ok: boolean;
  /**
   * Made by an io_uring request (IORING_OP_CONNECT), seen when it completed:
   * the address is the socket's peer (or, for a failed one, the request's),
   * and fd is -1.
   */
  uring?: boolean;
}

export interface MemfdEvent extends TaskInfo {
  kind: 'memfd';
  name: string;
  flags: number;
  /** The new fd, or -errno. */
  result: number;
  ok: boolean;
}

export interface ForkEvent extends TaskInfo {
  kind: 'fork';
  childPid: number;
  childTid: number;
  /** A thread of the same process rather than a new process. */
  thread: boolean;
  childComm: string;
}

export interface ExitEvent extends TaskInfo {
  kind: 'exit';
  /** Exit status when it exited normally, else null. */
  exitCode: number | null;
  /** Signal number that killed it, else null. */
  signal: number | null;
  /** This process's events the kernel could not deliver (ring buffer full); 0 from /proc. */
  dropped?: number;
}

/**
 * A syscall whose instruction lies in anonymous executable memory, or in a
 * mapping of a memfd (anonymous memory with a file around it): shellcode
 * doing raw syscalls.
 */
export interface AnonSyscallEvent extends TaskInfo {
  kind: 'anon-syscall';
  /** Syscall number (x86_64). */
  nr: number;
  vmaStart: number;
  vmaEnd: number;
  /** vm_flags of the mapping (VM_READ 1, VM_WRITE 2, VM_EXEC 4, ...). */
  vmFlags: number;
  /** The memfd whose mapping holds the instruction; null for anonymous memory. */
  memfd: FileInfo | null;
}

/** A syscall a WASM runtime has no use for (io_uring_setup, ptrace, process_vm_*, module loading, bpf, ...). */
export interface SyscallEvent extends TaskInfo {
  kind: 'syscall';
  nr: number;
  /** Its name (x86_64), or 'i386:N' for the 32-bit ABI. */
  name: string;
  /** The first three arguments as issued (zeros for the 32-bit ABI). */
  args: number[];
  /** process_vm_readv/writev: the address in the other process (its first remote iovec), else 0. */
  remoteAddr: number;
  /** Issued through the 32-bit ABI (int 0x80): reported once per process, its syscalls not decoded. */
  compat: boolean;
  /** Made by an io_uring request (IORING_OP_SOCKET) rather than the syscall. */
  uring?: boolean;
}

export type OpenSyscall = 'open' | 'openat' | 'openat2' | 'creat' | 'open_by_handle_at';

/**
 * A file a followed process opened. The kernel reports each file once per
 * process and access (read, write): reopening it is not reported again.
 * Directories and O_PATH handles are not reported.
 */
export interface OpenEvent extends TaskInfo {
  kind: 'open';
  syscall: OpenSyscall;
  /** The fd it got. */
  fd: number;
  /** The open file's flags (O_ACCMODE, O_APPEND, ...; the kernel keeps no O_CREAT or O_TRUNC). */
  flags: number;
  /** Opened for writing. */
  write: boolean;
  /** The file is /proc/PID/mem or /proc/PID/task/TID/mem (procfs, named "mem"). */
  procMem: boolean;
  /** Opened by an io_uring request (IORING_OP_OPENAT/OPENAT2) rather than the syscall. */
  uring?: boolean;
  file: FileInfo;
}

export type PathSyscall =
  | 'rename' | 'renameat' | 'renameat2' | 'link' | 'linkat' | 'symlink' | 'symlinkat' | 'unlink' | 'unlinkat' | 'truncate' | 'ftruncate';

/**
 * A name changed by a followed process: renamed or linked onto, a symlink
 * made, removed or truncated. Reported as the call is made (the attempt),
 * from its syscall or its io_uring request.
 */
export interface PathEvent extends TaskInfo {
  kind: 'path';
  syscall: PathSyscall;
  op: 'rename' | 'link' | 'symlink' | 'unlink' | 'truncate';
  /**
   * The path changed, absolute: the directory the kernel starts a relative
   * name from (working directory or dfd, read from its dentries) joined with
   * the caller's name, '.' and '..' taken by name; for ftruncate the file's
   * own path. Symlinks in the caller's part are not resolved. '' if unknown.
   */
  path: string;
  /** The caller's string, as given. */
  name: string;
  /** rename/link: the old name (absolute when it could be joined); symlink: the text the link points to. */
  source: string;
  /** Made by an io_uring request (RENAMEAT, LINKAT, SYMLINKAT, UNLINKAT). */
  uring?: boolean;
}

/**
 * The user stack behind the event of `eventKind` with the same tid and
 * timeNs: return addresses innermost first, as the kernel's frame-pointer
 * walk found them (fewer where code keeps no frame pointers). The probes'
 * reader also attaches it to that event as `userStack`.
 */
export interface StackEvent extends TaskInfo {
  kind: 'stack';
  /** The kind of the event it belongs to ('other' for a type this version does not know). */
  eventKind: KernelEventKind | 'other';
  frames: number[];
  /** The kernel's error from the walk (negative errno), 0 if it walked. */
  error: number;
  /** When the walk came up short: the stack words from the stack pointer `sp` up (8 KiB at most). */
  scan?: StackScan;
}

export interface StackScan {
  sp: number;
  words: number[];
}

/** A stack joined to its event (see StackEvent). */
export interface UserStack {
  frames: number[];
  error: number;
  scan?: StackScan;
}

export type KernelEvent =
  | StackEvent
  | AnonSyscallEvent
  | OpenEvent
  | PathEvent
  | SyscallEvent
  | MmapEvent
  | MprotectEvent
  | ExecEvent
  | ConnectEvent
  | MemfdEvent
  | ForkEvent
  | ExitEvent;

export type KernelEventKind = KernelEvent['kind'];

/** Linux protection bits. */
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;

/** vm_flags bits reported in MprotectEvent.oldFlags. */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;

/* ---------- observations from /proc (src/sources/proc) ---------- */

/** Names of a process's environment variables. Values are never kept. */
export interface ProcEnvEvent {
  kind: 'env';
  pid: number;
  names: string[];
}

/** A file a process has open (regular files and devices; not sockets, pipes or anon inodes). */
export interface ProcFileEvent {
  kind: 'file';
  pid: number;
  fd: number;
  path: string;
}

/** A TCP or UDP socket owned by a followed process, from its own /proc/PID/net tables. */
export interface ProcConnectionEvent {
  kind: 'connection';
  pid: number;
  protocol: 'tcp' | 'udp';
  family: 'inet' | 'inet6';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** TCP state name (ESTABLISHED, SYN_SENT, LISTEN, ...); UDP: 'UNCONN' or 'ESTABLISHED'. */
  state: string;
  /** Socket inode, as in /proc/PID/fd's socket:[N]; 0 for sockets no file refers to (TIME_WAIT). */
  inode: number;
}

/** A mapping that is readable, writable and executable at once. */
export interface ProcRwxEvent {
  kind: 'rwx-region';
  pid: number;
  start: number;
  end: number;
  perms: string;
  /** Backing file, or '' for anonymous memory, or [heap] / [stack] / ... */
  path: string;
}

/** A process found in the followed tree by polling (its parent is followed). */
export interface ProcProcessEvent {
  kind: 'process';
  pid: number;
  ppid: number;
  comm: string;
  /** Target of /proc/PID/exe ('' if unreadable). */
  exe: string;
  /** First arguments (at most 8, each cut at 127 bytes). */
  argv: string[];
}

/** The process being monitored has exited (gone, or a zombie). */
export interface ProcTargetExitEvent {
  kind: 'target-exit';
  pid: number;
}

export type ProcEvent =
  | ProcEnvEvent
  | ProcFileEvent
  | ProcConnectionEvent
  | ProcRwxEvent
  | ProcProcessEvent
  | ProcTargetExitEvent;

/** Everything the rules consume. */
export type RuntimeEvent = KernelEvent | ProcEvent;
