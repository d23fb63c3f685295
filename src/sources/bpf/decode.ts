/**
 * Decodes the addon's batches of raw ring buffer records into KernelEvents.
 * Every byte here comes from the kernel, but the strings in it (comm, paths,
 * argv) were chosen by the monitored process: they are decoded leniently and
 * never trusted to be well formed. A malformed record is skipped and counted,
 * never thrown.
 */
import type {
  AnonSyscallEvent,
  ConnectEvent,
  ExecEvent,
  ExitEvent,
  FileInfo,
  ForkEvent,
  KernelEvent,
  MemfdEvent,
  MmapEvent,
  MprotectEvent,
  OpenEvent,
  OpenSyscall,
  PathEvent,
  PathSyscall,
  SyscallEvent,
  SocketFamily,
  SocketType,
  StackEvent,
} from '../../events';
import {
  ANON_SYSCALL,
  ARG_LEN,
  COMM_LEN,
  CONNECT,
  EV,
  EXEC,
  EXEC_ARGS_RAW,
  EXEC_AT,
  EXEC_HOST,
  EXEC_NO_ENTER,
  EXEC_STDIO_SOCKET,
  EXIT,
  FILE,
  FILE_DETACHED,
  FILE_MEMFD,
  FILE_TRUNCATED,
  FORK,
  FORK_THREAD,
  FRAME_HEADER,
  HDR,
  MAX_ARGS,
  MEM,
  MEM_FILE,
  MEMFD,
  OPEN,
  OPEN_PROC_MEM,
  OPEN_URING,
  PATH,
  PATH_AT,
  PATH_FILE,
  PATH_LEN,
  PLACED_IMAGE,
  SITE_MEMFD,
  STACK_WORDS,
  SUN_PATH_LEN,
  SYSCALL,
  SYSCALL_COMPAT,
  STACK,
  STACK_DEPTH,
  STACK_SCAN,
  STACK_SCAN_WORDS,
  VIA_URING,
} from './layout';
import { posix } from 'path';
import { formatIPv4, formatIPv6 } from '../../net/address';
import { syscallName } from '../../syscalls';

const RECORD_SIZE: Record<number, number> = {
  [EV.MMAP]: MEM.size,
  [EV.MPROTECT]: MEM.size,
  [EV.PKEY_MPROTECT]: MEM.size,
  [EV.EXEC]: EXEC.size,
  [EV.CONNECT]: CONNECT.size,
  [EV.MEMFD]: MEMFD.size,
  [EV.FORK]: FORK.size,
  [EV.EXIT]: EXIT.size,
  [EV.ANON_SYSCALL]: ANON_SYSCALL.size,
  [EV.SYSCALL]: SYSCALL.size,
  [EV.OPEN]: OPEN.size,
  [EV.PATH]: PATH.size,
  [EV.STACK]: STACK.size,
};

/** The kind of event a stack record names, by its type. */
const KIND_OF_TYPE: Record<number, StackEvent['eventKind']> = {
  [EV.MMAP]: 'mmap', [EV.MPROTECT]: 'mprotect', [EV.PKEY_MPROTECT]: 'mprotect', [EV.EXEC]: 'exec',
  [EV.CONNECT]: 'connect', [EV.MEMFD]: 'memfd', [EV.FORK]: 'fork', [EV.EXIT]: 'exit',
  [EV.ANON_SYSCALL]: 'anon-syscall', [EV.SYSCALL]: 'syscall', [EV.OPEN]: 'open', [EV.PATH]: 'path',
};

const PATH_SYSCALLS: Record<number, [PathSyscall, PathEvent['op']]> = {
  82: ['rename', 'rename'], 264: ['renameat', 'rename'], 316: ['renameat2', 'rename'],
  86: ['link', 'link'], 265: ['linkat', 'link'], 88: ['symlink', 'symlink'], 266: ['symlinkat', 'symlink'],
  87: ['unlink', 'unlink'], 263: ['unlinkat', 'unlink'], 76: ['truncate', 'truncate'], 77: ['ftruncate', 'truncate'],
};

const OPEN_SYSCALLS: Record<number, OpenSyscall> = { 2: 'open', 85: 'creat', 257: 'openat', 304: 'open_by_handle_at', 437: 'openat2' };

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const VM_UNKNOWN = 0xffffffffffffffffn;

const SOCK_TYPES: Record<number, SocketType> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };

export interface DecodeResult {
  events: KernelEvent[];
  /** Records that could not be decoded (wrong size, unknown type, truncated frame). */
  malformed: number;
}

/** A NUL-terminated string inside a fixed field; invalid UTF-8 becomes U+FFFD. */
function cString(buf: Buffer, start: number, max: number): string {
  const end = Math.min(start + max, buf.length);
  let ascii = true;
  let i = start;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
  }
  return buf.toString(ascii ? 'latin1' : 'utf8', start, i);
}

/** Unsigned 64-bit as a number: exact below 2^53, which every user-space address is. */
function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
}

/** Signed 64-bit as a number (mmap results: an address or -errno). */
function s64(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 0x100000000 + view.getUint32(at, true);
}

/*
 * Each decoder builds its event as one object literal, header fields first:
 * one stable shape per kind and no intermediate objects, which keeps this
 * path fast and light on the garbage collector at hundreds of thousands of
 * events a second.
 */
const pid = (v: DataView, at: number) => v.getUint32(at + HDR.tgid, true);
const tid = (v: DataView, at: number) => v.getUint32(at + HDR.tid, true);
const ppid = (v: DataView, at: number) => v.getUint32(at + HDR.ppid, true);
const uid = (v: DataView, at: number) => v.getUint32(at + HDR.uid, true);
const comm = (b: Buffer, at: number) => cString(b, at + HDR.comm, COMM_LEN);
const timeNs = (v: DataView, at: number) => v.getBigUint64(at + HDR.ts, true);
const ip = (v: DataView, at: number) => u64(v, at + HDR.ip);

function stackWords(view: DataView, at: number): number[] {
  const words = new Array<number>(STACK_WORDS);
  for (let i = 0; i < STACK_WORDS; i++) words[i] = u64(view, at + MEM.stack + i * 8);
  return words;
}

/** A struct ev_file starting at `at`. */
function decodeFile(buf: Buffer, view: DataView, at: number): FileInfo {
  const flags = view.getUint16(at + FILE.flags, true);
  return {
    path: cString(buf, at + FILE.path, PATH_LEN),
    ino: u64(view, at + FILE.ino),
    dev: view.getUint32(at + FILE.dev, true),
    magic: view.getUint32(at + FILE.magic, true),
    nlink: view.getUint32(at + FILE.nlink, true),
    mode: view.getUint16(at + FILE.mode, true),
    memfd: (flags & FILE_MEMFD) !== 0,
    detached: (flags & FILE_DETACHED) !== 0,
    truncated: (flags & FILE_TRUNCATED) !== 0,
  };
}

function decodeMem(buf: Buffer, view: DataView, at: number, type: number, size: number): MmapEvent | MprotectEvent {
  const result = s64(view, at + MEM.result);
  const file = size === MEM_FILE.size ? decodeFile(buf, view, at + MEM_FILE.file) : null;
  if (type === EV.MMAP) {
    return {
      pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
      comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
      kind: 'mmap',
      addr: u64(view, at + MEM.addr),
      length: u64(view, at + MEM.len),
      prot: view.getUint32(at + MEM.prot, true),
      flags: view.getUint32(at + MEM.flags, true),
      fd: view.getInt32(at + MEM.fd, true),
      offset: u64(view, at + MEM.off),
      result,
      ok: result >= 0 || result < -4095,
      stack: stackWords(view, at),
      file,
      image: (view.getUint32(at + MEM.placed, true) & PLACED_IMAGE) !== 0,
    };
  }
  const old = view.getBigUint64(at + MEM.oldFlags, true);
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'mprotect',
    syscall: type === EV.MPROTECT ? 'mprotect' : 'pkey_mprotect',
    addr: u64(view, at + MEM.addr),
    length: u64(view, at + MEM.len),
    prot: view.getUint32(at + MEM.prot, true),
    pkey: type === EV.PKEY_MPROTECT ? view.getInt32(at + MEM.flags, true) : -1,
    oldFlags: old === VM_UNKNOWN ? null : Number(old & 0xffffffffn),
    result,
    ok: result === 0,
    stack: stackWords(view, at),
    file,
  };
}

function decodeExec(buf: Buffer, view: DataView, at: number): ExecEvent {
  const flags = view.getUint32(at + EXEC.flags, true);
  const argc = view.getUint32(at + EXEC.argc, true);
  const argv: string[] = [];
  if (flags & EXEC_ARGS_RAW) {
    // The new image's argument block: NUL-separated, possibly cut short.
    const end = at + EXEC.argv + Math.min(view.getUint32(at + EXEC.argsLen, true), MAX_ARGS * ARG_LEN);
    for (let p = at + EXEC.argv; p < end && argv.length < MAX_ARGS; ) {
      let nul = buf.indexOf(0, p);
      if (nul < 0 || nul > end) nul = end;
      argv.push(buf.toString('utf8', p, Math.min(nul, p + ARG_LEN - 1)));
      p = nul + 1;
    }
  } else {
    for (let i = 0; i < Math.min(argc, MAX_ARGS); i++) {
      argv.push(cString(buf, at + EXEC.argv + i * ARG_LEN, ARG_LEN - 1));
    }
  }
  const result = view.getInt32(at + HDR.ret, true);
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'exec',
    syscall: flags & EXEC_AT ? 'execveat' : 'execve',
    filename: cString(buf, at + EXEC.filename, PATH_LEN),
    argv,
    argc,
    image: cString(buf, at + EXEC.image, PATH_LEN),
    dfd: view.getInt32(at + EXEC.dfd, true),
    atFlags: view.getUint32(at + EXEC.atFlags, true),
    entrySeen: !(flags & EXEC_NO_ENTER),
    ...(flags & EXEC_HOST ? { host: true as const } : {}),
    stdioSocket: (flags & EXEC_STDIO_SOCKET) !== 0,
    ok: result === 0,
    result,
  };
}

function decodeConnect(buf: Buffer, view: DataView, at: number): ConnectEvent {
  const familyNumber = view.getUint16(at + CONNECT.family, true);
  let family: SocketFamily = 'other';
  let address = '';
  let path = '';
  if (familyNumber === AF_INET) {
    family = 'inet';
    address = formatIPv4(buf, at + CONNECT.addr);
  } else if (familyNumber === AF_INET6) {
    family = 'inet6';
    address = formatIPv6(buf, at + CONNECT.addr);
  } else if (familyNumber === AF_UNIX) {
    family = 'unix';
    const addrlen = view.getUint32(at + CONNECT.addrlen, true);
    const pathLen = Math.max(0, Math.min(addrlen - 2, SUN_PATH_LEN));
    if (pathLen > 0 && buf[at + CONNECT.path] === 0) {
      // Abstract socket: the name is the bytes after the leading NUL, by length.
      path = '@' + buf.toString('utf8', at + CONNECT.path + 1, at + CONNECT.path + pathLen);
    } else {
      path = cString(buf, at + CONNECT.path, pathLen || SUN_PATH_LEN);
    }
  }
  const result = view.getInt32(at + HDR.ret, true);
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'connect',
    fd: view.getInt32(at + CONNECT.fd, true),
    family,
    familyNumber,
    socketType: SOCK_TYPES[view.getUint16(at + CONNECT.sockType, true)] ?? 'unknown',
    address,
    port: family === 'inet' || family === 'inet6' ? view.getUint16(at + CONNECT.port, true) : 0,
    path,
    result,
    ok: result === 0,
    uring: (view.getUint16(at + CONNECT.flags, true) & VIA_URING) !== 0,
  };
}

function decodeMemfd(buf: Buffer, view: DataView, at: number): MemfdEvent {
  const result = view.getInt32(at + HDR.ret, true);
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'memfd',
    name: cString(buf, at + MEMFD.name, PATH_LEN),
    flags: view.getUint32(at + MEMFD.flags, true),
    result,
    ok: result >= 0,
  };
}

function decodeFork(buf: Buffer, view: DataView, at: number): ForkEvent {
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'fork',
    childPid: view.getUint32(at + FORK.childTgid, true),
    childTid: view.getUint32(at + FORK.childTid, true),
    thread: (view.getUint32(at + FORK.flags, true) & FORK_THREAD) !== 0,
    childComm: cString(buf, at + FORK.childComm, COMM_LEN),
  };
}

function decodeExit(buf: Buffer, view: DataView, at: number): ExitEvent {
  const status = view.getUint32(at + EXIT.exitCode, true);
  const signal = status & 0x7f;
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'exit',
    exitCode: signal === 0 ? (status >> 8) & 0xff : null,
    signal: signal === 0 ? null : signal,
    dropped: view.getUint32(at + EXIT.dropped, true),
  };
}

function decodeAnonSyscall(buf: Buffer, view: DataView, at: number): AnonSyscallEvent {
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'anon-syscall',
    nr: view.getUint32(at + ANON_SYSCALL.nr, true),
    vmaStart: u64(view, at + ANON_SYSCALL.vmaStart),
    vmaEnd: u64(view, at + ANON_SYSCALL.vmaEnd),
    vmFlags: u64(view, at + ANON_SYSCALL.vmFlags),
    memfd: view.getUint32(at + ANON_SYSCALL.flags, true) & SITE_MEMFD ? decodeFile(buf, view, at + ANON_SYSCALL.file) : null,
  };
}

function decodeOpen(buf: Buffer, view: DataView, at: number): OpenEvent {
  const fMode = view.getUint32(at + OPEN.fMode, true);
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'open',
    syscall: OPEN_SYSCALLS[view.getUint32(at + OPEN.nr, true)] ?? 'openat',
    fd: view.getInt32(at + HDR.ret, true),
    flags: view.getUint32(at + OPEN.fFlags, true),
    write: (fMode & 0x2) !== 0,
    procMem: (view.getUint32(at + OPEN.flags, true) & OPEN_PROC_MEM) !== 0,
    uring: (view.getUint32(at + OPEN.flags, true) & OPEN_URING) !== 0,
    file: decodeFile(buf, view, at + OPEN.file),
  };
}

function decodeSyscall(buf: Buffer, view: DataView, at: number): SyscallEvent {
  const nr = view.getUint32(at + SYSCALL.nr, true);
  const compat = (view.getUint32(at + SYSCALL.flags, true) & SYSCALL_COMPAT) !== 0;
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'syscall',
    nr,
    name: compat ? `i386:${nr}` : syscallName(nr),
    args: [u64(view, at + SYSCALL.args), u64(view, at + SYSCALL.args + 8), u64(view, at + SYSCALL.args + 16)],
    remoteAddr: u64(view, at + SYSCALL.remoteAddr),
    compat,
    uring: (view.getUint32(at + SYSCALL.flags, true) & VIA_URING) !== 0,
  };
}

/** A name relative to an absolute directory, joined; '' when either is unknown. */
function joined(dir: string, name: string): string {
  if (name.startsWith('/')) return posix.normalize(name);
  if (!dir.startsWith('/') || name === '') return '';
  return posix.normalize(`${dir}/${name}`);
}

function decodePath(buf: Buffer, view: DataView, at: number): PathEvent {
  const nr = view.getUint32(at + PATH.nr, true);
  const flags = view.getUint32(at + PATH.flags, true);
  const [syscall, op] = PATH_SYSCALLS[nr] ?? ['unlinkat', 'unlink'];
  const dir = flags & (PATH_AT | PATH_FILE) ? decodeFile(buf, view, at + PATH.at) : null;
  const name = cString(buf, at + PATH.name, PATH_LEN);
  const source = cString(buf, at + PATH.source, PATH_LEN);
  const base = dir && !dir.truncated && !dir.detached ? dir.path : '';
  const path = flags & PATH_FILE ? base : joined(base, name);
  // rename and link without a dfd: the old name starts where the new one does
  const sameDir = syscall === 'rename' || syscall === 'link';
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'path',
    syscall,
    op,
    path,
    name,
    source: op !== 'symlink' && (sameDir || source.startsWith('/')) ? joined(base, source) || source : source,
    uring: (flags & VIA_URING) !== 0,
  };
}

function decodeStack(buf: Buffer, view: DataView, at: number, size: number): StackEvent {
  const nr = Math.min(view.getUint16(at + STACK.nr, true), STACK_DEPTH);
  const frames = new Array<number>(nr);
  for (let i = 0; i < nr; i++) frames[i] = u64(view, at + STACK.frames + i * 8);
  let scan: StackEvent['scan'];
  if (size === STACK_SCAN.size) {
    const n = Math.min(view.getUint32(at + STACK_SCAN.scanLen, true), STACK_SCAN_WORDS);
    const words = new Array<number>(n);
    for (let i = 0; i < n; i++) words[i] = u64(view, at + STACK_SCAN.scan + i * 8);
    scan = { sp: u64(view, at + STACK_SCAN.sp), words };
  }
  return {
    pid: pid(view, at), tid: tid(view, at), ppid: ppid(view, at), uid: uid(view, at),
    comm: comm(buf, at), timeNs: timeNs(view, at), ip: ip(view, at),
    kind: 'stack',
    eventKind: KIND_OF_TYPE[view.getUint16(at + STACK.eventType, true)] ?? 'other',
    frames,
    error: view.getInt32(at + STACK.err, true),
    ...(scan ? { scan } : {}),
  };
}

/** Decodes one record that starts at `at` and is `size` bytes long. */
export function decodeRecord(buf: Buffer, view: DataView, at: number, size: number): KernelEvent | null {
  if (size < HDR.size) return null;
  const type = view.getUint16(at + HDR.type, true);
  const expected = RECORD_SIZE[type];
  if (expected === undefined || view.getUint16(at + HDR.recSize, true) !== size) return null;
  // a memory event on a file's memory carries the file after the call
  const isMem = type === EV.MMAP || type === EV.MPROTECT || type === EV.PKEY_MPROTECT;
  if (size !== expected && !(isMem && size === MEM_FILE.size) && !(type === EV.STACK && size === STACK_SCAN.size)) return null;
  switch (type) {
    case EV.MMAP:
    case EV.MPROTECT:
    case EV.PKEY_MPROTECT:
      return decodeMem(buf, view, at, type, size);
    case EV.EXEC:
      return decodeExec(buf, view, at);
    case EV.CONNECT:
      return decodeConnect(buf, view, at);
    case EV.MEMFD:
      return decodeMemfd(buf, view, at);
    case EV.FORK:
      return decodeFork(buf, view, at);
    case EV.EXIT:
      return decodeExit(buf, view, at);
    case EV.ANON_SYSCALL:
      return decodeAnonSyscall(buf, view, at);
    case EV.SYSCALL:
      return decodeSyscall(buf, view, at);
    case EV.OPEN:
      return decodeOpen(buf, view, at);
    case EV.PATH:
      return decodePath(buf, view, at);
    case EV.STACK:
      return decodeStack(buf, view, at, size);
    default:
      return null;
  }
}

/** Decodes a batch as framed by the addon: [u32 size][u32 0][record][pad to 8]... */
export function decodeBatch(buf: Buffer): DecodeResult {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: KernelEvent[] = [];
  let malformed = 0;
  let off = 0;
  while (off + FRAME_HEADER <= buf.length) {
    const size = view.getUint32(off, true);
    const at = off + FRAME_HEADER;
    if (at + size > buf.length) {
      malformed++;
      break;
    }
    const event = decodeRecord(buf, view, at, size);
    if (event) events.push(event);
    else malformed++;
    off = at + ((size + 7) & ~7);
  }
  return { events, malformed };
}
