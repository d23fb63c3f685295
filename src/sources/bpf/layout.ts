/**
 * Byte layout of the ring buffer records, mirroring bpf/events.h.
 * test/10.decode.test.ts compiles scripts/print-layout.c against events.h and
 * checks every number here, so a change on one side cannot go unnoticed.
 */

export const COMM_LEN = 16;
export const PATH_LEN = 256;
export const MAX_ARGS = 8;
export const ARG_LEN = 128;
export const SUN_PATH_LEN = 108;
export const MAX_SYSCALLS = 512;
export const STACK_WORDS = 16;
/** User frames in an EV_STACK record. */
export const STACK_DEPTH = 32;

export const EV = {
  MMAP: 1,
  MPROTECT: 2,
  PKEY_MPROTECT: 3,
  EXEC: 4,
  CONNECT: 5,
  MEMFD: 6,
  FORK: 7,
  EXIT: 8,
  ANON_SYSCALL: 9,
  SYSCALL: 10,
  OPEN: 11,
  PATH: 12,
  STACK: 13,
} as const;
export const EV_TYPE_MAX = 14;
/** Index in the drops counters of stash-map overflow (arguments lost between entry and exit). */
export const DROP_STASH = 0;

export const EXEC_AT = 0x1;
export const EXEC_NO_ENTER = 0x2;
export const EXEC_ARGS_RAW = 0x4;
export const EXEC_HOST = 0x8;
export const EXEC_STDIO_SOCKET = 0x10;
/** ev_connect.flags, ev_syscall.flags, ev_path.flags: an io_uring request rather than the syscall. */
export const VIA_URING = 0x100;
export const FORK_THREAD = 0x1;

export const HDR = {
  size: 56,
  type: 0,
  recSize: 2,
  tid: 4,
  ts: 8,
  tgid: 16,
  ppid: 20,
  uid: 24,
  ret: 28,
  ip: 32,
  comm: 40,
} as const;

export const MEM = {
  size: 240,
  addr: 56,
  len: 64,
  off: 72,
  oldFlags: 80,
  result: 88,
  prot: 96,
  flags: 100,
  fd: 104,
  placed: 108,
  stack: 112,
} as const;
export const PLACED_IMAGE = 0x1;

export const EXEC = {
  size: 1616,
  dfd: 56,
  atFlags: 60,
  argc: 64,
  flags: 68,
  argsLen: 72,
  filename: 80,
  image: 336,
  argv: 592,
} as const;

export const CONNECT = {
  size: 200,
  fd: 56,
  family: 60,
  port: 62,
  sockType: 64,
  flags: 66,
  addrlen: 68,
  addr: 72,
  path: 88,
} as const;

/** struct ev_file, inside other records (offsets from its start). */
export const FILE = {
  size: 280,
  ino: 0,
  dev: 8,
  magic: 12,
  nlink: 16,
  mode: 20,
  flags: 22,
  path: 24,
} as const;
export const FILE_MEMFD = 0x1;
export const FILE_DETACHED = 0x2;
export const FILE_TRUNCATED = 0x4;

/** struct ev_mem_file: a memory event on a file's memory. */
export const MEM_FILE = {
  size: 520,
  file: 240,
} as const;

export const OPEN = {
  size: 352,
  nr: 56,
  fFlags: 60,
  fMode: 64,
  flags: 68,
  file: 72,
} as const;
export const OPEN_PROC_MEM = 0x1;
export const OPEN_URING = 0x2;

/** struct ev_path: a rename, link, symlink, unlink or truncate. */
export const PATH = {
  size: 864,
  nr: 56,
  flags: 60,
  dfd: 64,
  at: 72,
  name: 352,
  source: 608,
} as const;
export const PATH_FILE = 0x1;
export const PATH_AT = 0x2;

export const MEMFD = {
  size: 320,
  flags: 56,
  name: 64,
} as const;

export const FORK = {
  size: 88,
  childTgid: 56,
  childTid: 60,
  flags: 64,
  childComm: 72,
} as const;

export const EXIT = {
  size: 64,
  exitCode: 56,
  dropped: 60,
} as const;

export const SYSCALL = {
  size: 96,
  nr: 56,
  flags: 60,
  args: 64,
  remoteAddr: 88,
} as const;
export const SYSCALL_COMPAT = 0x1;

export const ANON_SYSCALL = {
  size: 368,
  vmaStart: 56,
  vmaEnd: 64,
  vmFlags: 72,
  nr: 80,
  flags: 84,
  file: 88,
} as const;
export const SITE_MEMFD = 0x1;

/** struct ev_stack: the user stack of the event just before it (same tid and ts_ns). */
export const STACK = {
  size: 320,
  eventType: 56,
  nr: 58,
  err: 60,
  frames: 64,
} as const;

/** struct ev_stack_scan: an EV_STACK whose walk came up short, with the stack words from the stack pointer up. */
export const STACK_SCAN = {
  size: 8528,
  sp: 320,
  scanLen: 328,
  scan: 336,
} as const;
export const STACK_SCAN_WORDS = 1024;
export const STACK_SCAN_BELOW = 8;

/** Each record in a batch is framed as [u32 size][u32 0][record][pad to 8]. */
export const FRAME_HEADER = 8;
