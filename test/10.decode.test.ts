import { execFileSync } from 'child_process';
import { formatIPv6 } from '../src/net/address';
import { decodeBatch } from '../src/sources/bpf/decode';
import * as L from '../src/sources/bpf/layout';
import { buildFixture } from './helpers/env';

/** Frames records the way the addon does: [u32 size][u32 0][record][pad to 8]. */
function frame(...records: Buffer[]): Buffer {
  return Buffer.concat(
    records.map((r) => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(r.length, 0);
      return Buffer.concat([head, r, Buffer.alloc(((r.length + 7) & ~7) - r.length)]);
    }),
  );
}

function record(type: number, size: number, pid = 1234, tid = pid): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt16LE(type, L.HDR.type);
  b.writeUInt16LE(size, L.HDR.recSize);
  b.writeUInt32LE(tid, L.HDR.tid);
  b.writeBigUInt64LE(123456789n, L.HDR.ts);
  b.writeUInt32LE(pid, L.HDR.tgid);
  b.writeUInt32LE(1, L.HDR.ppid);
  b.writeUInt32LE(1000, L.HDR.uid);
  b.writeBigUInt64LE(0x7f0000001234n, L.HDR.ip);
  b.write('wasmtime', L.HDR.comm, 'latin1');
  return b;
}

describe('record layout', () => {
  it('mirrors bpf/events.h exactly', () => {
    const c = JSON.parse(execFileSync(buildFixture('scripts/print-layout.c')).toString());
    const ts: Record<string, number> = {
      ev_hdr: L.HDR.size, 'ev_hdr.type': L.HDR.type, 'ev_hdr.size': L.HDR.recSize, 'ev_hdr.tid': L.HDR.tid,
      'ev_hdr.ts_ns': L.HDR.ts, 'ev_hdr.tgid': L.HDR.tgid, 'ev_hdr.ppid': L.HDR.ppid, 'ev_hdr.uid': L.HDR.uid,
      'ev_hdr.ret': L.HDR.ret, 'ev_hdr.ip': L.HDR.ip, 'ev_hdr.comm': L.HDR.comm,
      ev_mem: L.MEM.size, 'ev_mem.addr': L.MEM.addr, 'ev_mem.len': L.MEM.len, 'ev_mem.off': L.MEM.off,
      'ev_mem.old_flags': L.MEM.oldFlags, 'ev_mem.result': L.MEM.result, 'ev_mem.prot': L.MEM.prot,
      'ev_mem.flags': L.MEM.flags, 'ev_mem.fd': L.MEM.fd, 'ev_mem.placed': L.MEM.placed, 'ev_mem.stack': L.MEM.stack, WS_PLACED_IMAGE: L.PLACED_IMAGE,
      ev_exec: L.EXEC.size, 'ev_exec.dfd': L.EXEC.dfd, 'ev_exec.at_flags': L.EXEC.atFlags, 'ev_exec.argc': L.EXEC.argc,
      'ev_exec.flags': L.EXEC.flags, 'ev_exec.args_len': L.EXEC.argsLen, 'ev_exec.filename': L.EXEC.filename, 'ev_exec.image': L.EXEC.image,
      'ev_exec.argv': L.EXEC.argv,
      ev_connect: L.CONNECT.size, 'ev_connect.fd': L.CONNECT.fd, 'ev_connect.family': L.CONNECT.family,
      'ev_connect.port': L.CONNECT.port, 'ev_connect.sock_type': L.CONNECT.sockType,
      'ev_connect.addrlen': L.CONNECT.addrlen, 'ev_connect.addr': L.CONNECT.addr, 'ev_connect.path': L.CONNECT.path,
      ev_memfd: L.MEMFD.size, 'ev_memfd.flags': L.MEMFD.flags, 'ev_memfd.name': L.MEMFD.name,
      ev_fork: L.FORK.size, 'ev_fork.child_tgid': L.FORK.childTgid, 'ev_fork.child_tid': L.FORK.childTid,
      'ev_fork.flags': L.FORK.flags, 'ev_fork.child_comm': L.FORK.childComm,
      ev_exit: L.EXIT.size, 'ev_exit.exit_code': L.EXIT.exitCode, 'ev_exit.dropped': L.EXIT.dropped,
      ev_anon_syscall: L.ANON_SYSCALL.size, 'ev_anon_syscall.vma_start': L.ANON_SYSCALL.vmaStart,
      'ev_anon_syscall.vma_end': L.ANON_SYSCALL.vmaEnd, 'ev_anon_syscall.vm_flags': L.ANON_SYSCALL.vmFlags,
      'ev_anon_syscall.nr': L.ANON_SYSCALL.nr, EV_ANON_SYSCALL: L.EV.ANON_SYSCALL, WS_STACK_WORDS: L.STACK_WORDS,
      ev_syscall: L.SYSCALL.size, 'ev_syscall.nr': L.SYSCALL.nr, 'ev_syscall.flags': L.SYSCALL.flags,
      'ev_syscall.args': L.SYSCALL.args, 'ev_syscall.remote_addr': L.SYSCALL.remoteAddr, EV_SYSCALL: L.EV.SYSCALL, WS_SYSCALL_COMPAT: L.SYSCALL_COMPAT,
      'ev_anon_syscall.flags': L.ANON_SYSCALL.flags, 'ev_anon_syscall.file': L.ANON_SYSCALL.file, WS_SITE_MEMFD: L.SITE_MEMFD,
      ev_file: L.FILE.size, 'ev_file.ino': L.FILE.ino, 'ev_file.dev': L.FILE.dev, 'ev_file.magic': L.FILE.magic,
      'ev_file.nlink': L.FILE.nlink, 'ev_file.mode': L.FILE.mode, 'ev_file.flags': L.FILE.flags, 'ev_file.path': L.FILE.path,
      WS_FILE_MEMFD: L.FILE_MEMFD, WS_FILE_DETACHED: L.FILE_DETACHED, WS_FILE_TRUNCATED: L.FILE_TRUNCATED,
      ev_mem_file: L.MEM_FILE.size, 'ev_mem_file.file': L.MEM_FILE.file,
      ev_open: L.OPEN.size, 'ev_open.nr': L.OPEN.nr, 'ev_open.f_flags': L.OPEN.fFlags, 'ev_open.f_mode': L.OPEN.fMode,
      'ev_open.flags': L.OPEN.flags,
      ev_path: L.PATH.size, 'ev_path.nr': L.PATH.nr, 'ev_path.flags': L.PATH.flags, 'ev_path.dfd': L.PATH.dfd,
      'ev_path.at': L.PATH.at, 'ev_path.name': L.PATH.name, 'ev_path.source': L.PATH.source, 'ev_connect.flags': L.CONNECT.flags,
      ev_stack: L.STACK.size, 'ev_stack.event_type': L.STACK.eventType, 'ev_stack.nr': L.STACK.nr, 'ev_stack.err': L.STACK.err,
      'ev_stack.frames': L.STACK.frames, EV_STACK: L.EV.STACK, WS_STACK_DEPTH: L.STACK_DEPTH,
      ev_stack_scan: L.STACK_SCAN.size, 'ev_stack_scan.sp': L.STACK_SCAN.sp, 'ev_stack_scan.scan_len': L.STACK_SCAN.scanLen,
      'ev_stack_scan.scan': L.STACK_SCAN.scan, WS_STACK_SCAN_WORDS: L.STACK_SCAN_WORDS, WS_STACK_SCAN_BELOW: L.STACK_SCAN_BELOW,
      EV_PATH: L.EV.PATH, WS_OPEN_URING: L.OPEN_URING, WS_VIA_URING: L.VIA_URING, WS_PATH_FILE: L.PATH_FILE, WS_PATH_AT: L.PATH_AT,
      WS_EXEC_STDIO_SOCKET: L.EXEC_STDIO_SOCKET, 'ev_open.file': L.OPEN.file, EV_OPEN: L.EV.OPEN, WS_OPEN_PROC_MEM: L.OPEN_PROC_MEM,
      EV_MMAP: L.EV.MMAP, EV_MPROTECT: L.EV.MPROTECT, EV_PKEY_MPROTECT: L.EV.PKEY_MPROTECT, EV_EXEC: L.EV.EXEC,
      EV_CONNECT: L.EV.CONNECT, EV_MEMFD: L.EV.MEMFD, EV_FORK: L.EV.FORK, EV_EXIT: L.EV.EXIT,
      EV_TYPE_MAX: L.EV_TYPE_MAX, WS_COMM_LEN: L.COMM_LEN, WS_PATH_LEN: L.PATH_LEN, WS_MAX_ARGS: L.MAX_ARGS,
      WS_ARG_LEN: L.ARG_LEN, WS_SUN_PATH_LEN: L.SUN_PATH_LEN, WS_MAX_SYSCALLS: L.MAX_SYSCALLS,
      WS_DROP_STASH: L.DROP_STASH, WS_EXEC_AT: L.EXEC_AT, WS_EXEC_NO_ENTER: L.EXEC_NO_ENTER, WS_EXEC_ARGS_RAW: L.EXEC_ARGS_RAW, WS_EXEC_HOST: L.EXEC_HOST,
      WS_FORK_THREAD: L.FORK_THREAD,
    };
    expect(ts).toEqual(c);
  });
});

describe('decodeBatch', () => {
  it('decodes a W+X mmap with its header', () => {
    const r = record(L.EV.MMAP, L.MEM.size, 42, 43);
    r.writeBigUInt64LE(0n, L.MEM.addr);
    r.writeBigUInt64LE(4096n, L.MEM.len);
    r.writeBigInt64LE(0x7f1234560000n, L.MEM.result);
    r.writeUInt32LE(7, L.MEM.prot);
    r.writeUInt32LE(0x22, L.MEM.flags);
    r.writeInt32LE(-1, L.MEM.fd);
    r.writeBigUInt64LE(0x401234n, L.MEM.stack);
    const { events, malformed } = decodeBatch(frame(r));
    expect(malformed).toBe(0);
    expect(events).toEqual([
      {
        kind: 'mmap', pid: 42, tid: 43, ppid: 1, uid: 1000, comm: 'wasmtime', timeNs: 123456789n,
        ip: 0x7f0000001234, addr: 0, length: 4096, prot: 7, flags: 0x22, fd: -1, offset: 0,
        result: 0x7f1234560000, ok: true, stack: [0x401234, ...Array(15).fill(0)], file: null, image: false,
      },
    ]);
  });

  /** A struct ev_file at `at` in b. */
  function writeFile(b: Buffer, at: number, path: string, flags: number, nlink = 0) {
    b.writeBigUInt64LE(1690n, at + L.FILE.ino);
    b.writeUInt32LE(1, at + L.FILE.dev);
    b.writeUInt32LE(0x01021994, at + L.FILE.magic);
    b.writeUInt32LE(nlink, at + L.FILE.nlink);
    b.writeUInt16LE(0o100777, at + L.FILE.mode);
    b.writeUInt16LE(flags, at + L.FILE.flags);
    b.write(path, at + L.FILE.path);
  }

  it("decodes a memory event on a file's memory with the file", () => {
    const r = record(L.EV.MMAP, L.MEM_FILE.size);
    r.writeUInt32LE(5, L.MEM.prot);
    r.writeInt32LE(3, L.MEM.fd);
    r.writeBigInt64LE(0x7f1234560000n, L.MEM.result);
    r.writeUInt32LE(L.PLACED_IMAGE, L.MEM.placed);
    writeFile(r, L.MEM_FILE.file, '/memfd:payload', L.FILE_MEMFD | L.FILE_DETACHED);
    const p = record(L.EV.MPROTECT, L.MEM_FILE.size);
    writeFile(p, L.MEM_FILE.file, 'deep/er/lib.so', L.FILE_TRUNCATED, 1);
    const { events, malformed } = decodeBatch(frame(r, p));
    expect(malformed).toBe(0);
    expect(events[0]).toMatchObject({
      kind: 'mmap', prot: 5, fd: 3, ok: true, image: true,
      file: { path: '/memfd:payload', ino: 1690, dev: 1, magic: 0x01021994, nlink: 0, mode: 0o100777, memfd: true, detached: true, truncated: false },
    });
    expect(events[1]).toMatchObject({ kind: 'mprotect', file: { path: 'deep/er/lib.so', nlink: 1, memfd: false, truncated: true } });
  });

  it('decodes an open with the file the kernel resolved', () => {
    const r = record(L.EV.OPEN, L.OPEN.size);
    r.writeInt32LE(4, L.HDR.ret);
    r.writeUInt32LE(257, L.OPEN.nr);
    r.writeUInt32LE(2, L.OPEN.fFlags);
    r.writeUInt32LE(0x3, L.OPEN.fMode);
    r.writeUInt32LE(L.OPEN_PROC_MEM, L.OPEN.flags);
    writeFile(r, L.OPEN.file, '/proc/1234/mem', 0, 1);
    const c = record(L.EV.OPEN, L.OPEN.size);
    c.writeUInt32LE(85, L.OPEN.nr);
    c.writeUInt32LE(0x1, L.OPEN.fMode);
    expect(decodeBatch(frame(r, c)).events).toEqual([
      expect.objectContaining({ kind: 'open', syscall: 'openat', fd: 4, flags: 2, write: true, procMem: true, file: expect.objectContaining({ path: '/proc/1234/mem' }) }),
      expect.objectContaining({ kind: 'open', syscall: 'creat', write: false, procMem: false }),
    ]);
  });

  it('reports a failed mmap and a failed exec as not ok', () => {
    const m = record(L.EV.MMAP, L.MEM.size);
    m.writeBigInt64LE(-12n, L.MEM.result);
    const x = record(L.EV.EXEC, L.EXEC.size);
    x.writeInt32LE(-2, L.HDR.ret);
    x.write('/no/such/file', L.EXEC.filename);
    const { events } = decodeBatch(frame(m, x));
    expect(events.map((e) => [e.kind, 'ok' in e && e.ok, 'result' in e && e.result])).toEqual([
      ['mmap', false, -12],
      ['exec', false, -2],
    ]);
  });

  it('decodes mprotect with the old flags, and unknown old flags as null', () => {
    const a = record(L.EV.MPROTECT, L.MEM.size);
    a.writeUInt32LE(5, L.MEM.prot);
    a.writeBigUInt64LE(0x73n, L.MEM.oldFlags);
    const b = record(L.EV.PKEY_MPROTECT, L.MEM.size);
    b.writeBigUInt64LE(0xffffffffffffffffn, L.MEM.oldFlags);
    b.writeInt32LE(3, L.MEM.flags);
    const { events } = decodeBatch(frame(a, b));
    expect(events[0]).toMatchObject({ kind: 'mprotect', syscall: 'mprotect', prot: 5, oldFlags: 0x73, ok: true });
    expect(events[1]).toMatchObject({ kind: 'mprotect', syscall: 'pkey_mprotect', pkey: 3, oldFlags: null });
  });

  it('decodes exec argv up to argc, capped at the captured slots', () => {
    const x = record(L.EV.EXEC, L.EXEC.size);
    x.write('/bin/sh', L.EXEC.filename);
    x.write('/usr/bin/dash', L.EXEC.image);
    x.writeUInt32LE(12, L.EXEC.argc);
    for (let i = 0; i < L.MAX_ARGS; i++) x.write(`a${i}`, L.EXEC.argv + i * L.ARG_LEN);
    const e = decodeBatch(frame(x)).events[0];
    expect(e).toMatchObject({ kind: 'exec', syscall: 'execve', filename: '/bin/sh', image: '/usr/bin/dash', argc: 12 });
    expect(e.kind === 'exec' && e.argv).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']);
  });

  it('splits a raw argument block, cutting each argument like a slot', () => {
    const x = record(L.EV.EXEC, L.EXEC.size);
    const block = Buffer.from(`node\0${'x'.repeat(200)}\0--flag\0`);
    block.copy(x, L.EXEC.argv);
    x.fill(0x7a, L.EXEC.argv + block.length, L.EXEC.argv + block.length + 20); // stale bytes past args_len
    x.writeUInt32LE(block.length, L.EXEC.argsLen);
    x.writeUInt32LE(3, L.EXEC.argc);
    x.writeUInt32LE(L.EXEC_ARGS_RAW, L.EXEC.flags);
    const e = decodeBatch(frame(x)).events[0];
    expect(e.kind === 'exec' && e.argv).toEqual(['node', 'x'.repeat(L.ARG_LEN - 1), '--flag']);
  });

  it('decodes IPv4, IPv6 and unix connect addresses', () => {
    const v4 = record(L.EV.CONNECT, L.CONNECT.size);
    v4.writeUInt16LE(2, L.CONNECT.family);
    v4.writeUInt16LE(9001, L.CONNECT.port);
    v4.writeUInt16LE(1, L.CONNECT.sockType);
    Buffer.from([127, 0, 0, 1]).copy(v4, L.CONNECT.addr);
    const v6 = record(L.EV.CONNECT, L.CONNECT.size);
    v6.writeUInt16LE(10, L.CONNECT.family);
    v6.writeUInt16LE(9050, L.CONNECT.port);
    v6.writeInt32LE(-111, L.HDR.ret);
    v6[L.CONNECT.addr + 15] = 1;
    const un = record(L.EV.CONNECT, L.CONNECT.size);
    un.writeUInt16LE(1, L.CONNECT.family);
    un.writeUInt32LE(2 + 8, L.CONNECT.addrlen);
    Buffer.from('\0abstract').copy(un, L.CONNECT.path);
    const [a, b, c] = decodeBatch(frame(v4, v6, un)).events;
    expect(a).toMatchObject({ family: 'inet', address: '127.0.0.1', port: 9001, socketType: 'stream', ok: true });
    expect(b).toMatchObject({ family: 'inet6', address: '::1', port: 9050, result: -111, ok: false });
    expect(c).toMatchObject({ family: 'unix', path: '@abstrac', port: 0 });
  });

  it('formats IPv6 per RFC 5952', () => {
    const hex = (s: string) => Buffer.from(s.replace(/:/g, ''), 'hex');
    expect(formatIPv6(hex('2001:0db8:0000:0000:0000:0000:0000:0001'), 0)).toBe('2001:db8::1');
    expect(formatIPv6(hex('2001:0db8:0000:0001:0000:0000:0000:0001'), 0)).toBe('2001:db8:0:1::1');
    expect(formatIPv6(hex('0000:0000:0000:0000:0000:ffff:0a00:0001'), 0)).toBe('::ffff:10.0.0.1');
    expect(formatIPv6(Buffer.alloc(16), 0)).toBe('::');
    expect(formatIPv6(hex('2001:0db8:0000:0001:0001:0001:0001:0001'), 0)).toBe('2001:db8:0:1:1:1:1:1');
  });

  it('decodes a syscall from anonymous memory', () => {
    const a = record(L.EV.ANON_SYSCALL, L.ANON_SYSCALL.size);
    a.writeBigUInt64LE(0x7f0000010000n, L.ANON_SYSCALL.vmaStart);
    a.writeBigUInt64LE(0x7f0000011000n, L.ANON_SYSCALL.vmaEnd);
    a.writeBigUInt64LE(0x77n, L.ANON_SYSCALL.vmFlags);
    a.writeUInt32LE(59, L.ANON_SYSCALL.nr);
    expect(decodeBatch(frame(a)).events[0]).toMatchObject({
      kind: 'anon-syscall', nr: 59, vmaStart: 0x7f0000010000, vmaEnd: 0x7f0000011000, vmFlags: 0x77, ip: 0x7f0000001234, memfd: null,
    });
    const m = record(L.EV.ANON_SYSCALL, L.ANON_SYSCALL.size);
    m.writeUInt32LE(L.SITE_MEMFD, L.ANON_SYSCALL.flags);
    writeFile(m, L.ANON_SYSCALL.file, '/memfd:code', L.FILE_MEMFD | L.FILE_DETACHED);
    expect(decodeBatch(frame(m)).events[0]).toMatchObject({ kind: 'anon-syscall', memfd: { path: '/memfd:code', memfd: true } });
  });

  it('decodes a notable syscall with its first arguments', () => {
    const r = record(L.EV.SYSCALL, L.SYSCALL.size);
    r.writeUInt32LE(425, L.SYSCALL.nr);
    r.writeBigUInt64LE(8n, L.SYSCALL.args);
    r.writeBigUInt64LE(0x7ffd0000n, L.SYSCALL.args + 8);
    expect(decodeBatch(frame(r)).events[0]).toMatchObject({ kind: 'syscall', nr: 425, name: 'io_uring_setup', args: [8, 0x7ffd0000, 0], compat: false });
    const w = record(L.EV.SYSCALL, L.SYSCALL.size);
    w.writeUInt32LE(311, L.SYSCALL.nr);
    w.writeBigUInt64LE(0x55550000n, L.SYSCALL.remoteAddr);
    expect(decodeBatch(frame(w)).events[0]).toMatchObject({ name: 'process_vm_writev', remoteAddr: 0x55550000 });
    const c = record(L.EV.SYSCALL, L.SYSCALL.size);
    c.writeUInt32LE(192, L.SYSCALL.nr);
    c.writeUInt32LE(L.SYSCALL_COMPAT, L.SYSCALL.flags);
    expect(decodeBatch(frame(c)).events[0]).toMatchObject({ kind: 'syscall', nr: 192, name: 'i386:192', compat: true });
  });

  it('decodes fork and exit (normal and by signal)', () => {
    const f = record(L.EV.FORK, L.FORK.size);
    f.writeUInt32LE(77, L.FORK.childTgid);
    f.writeUInt32LE(78, L.FORK.childTid);
    f.writeUInt32LE(L.FORK_THREAD, L.FORK.flags);
    f.write('worker', L.FORK.childComm);
    const x1 = record(L.EV.EXIT, L.EXIT.size);
    x1.writeUInt32LE(3 << 8, L.EXIT.exitCode);
    const x2 = record(L.EV.EXIT, L.EXIT.size);
    x2.writeUInt32LE(9, L.EXIT.exitCode);
    const [fe, e1, e2] = decodeBatch(frame(f, x1, x2)).events;
    expect(fe).toMatchObject({ kind: 'fork', childPid: 77, childTid: 78, thread: true, childComm: 'worker' });
    expect(e1).toMatchObject({ kind: 'exit', exitCode: 3, signal: null });
    expect(e2).toMatchObject({ kind: 'exit', exitCode: null, signal: 9 });
  });

  it('keeps hostile strings as text: no NUL overrun, invalid UTF-8 replaced', () => {
    const m = record(L.EV.MEMFD, L.MEMFD.size);
    Buffer.from([0xff, 0xfe, 0x41, 0x1b, 0x5b, 0x32, 0x4a]).copy(m, L.MEMFD.name);
    m.fill(0x41, L.HDR.comm, L.HDR.comm + L.COMM_LEN); // comm without a NUL
    const e = decodeBatch(frame(m)).events[0];
    expect(e.comm).toBe('A'.repeat(16));
    expect(e.kind === 'memfd' && e.name).toBe('\ufffd\ufffdA\x1b[2J');
  });

  it('skips malformed records and counts them, without throwing', () => {
    const good = record(L.EV.EXIT, L.EXIT.size);
    const wrongSize = record(L.EV.MMAP, L.MEM.size - 8);
    const unknown = record(99, 64);
    const fileSizedFork = record(L.EV.FORK, L.MEM_FILE.size); // only memory events come with a file
    const truncated = frame(record(L.EV.FORK, L.FORK.size)).subarray(0, 40);
    const batch = Buffer.concat([frame(good, wrongSize, unknown, fileSizedFork, good), truncated]);
    const { events, malformed } = decodeBatch(batch);
    expect(events.map((e) => e.kind)).toEqual(['exit', 'exit']);
    expect(malformed).toBe(4);
    expect(decodeBatch(Buffer.alloc(3))).toEqual({ events: [], malformed: 0 });
  });
});
