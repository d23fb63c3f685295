/**
 * The probes against real processes: a compiled trigger does each thing the
 * probes must see, as a followed target and as an unrelated bystander.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { PROC_SUPER_MAGIC, TMPFS_MAGIC, type ConnectEvent, type ExecEvent, type ForkEvent, type KernelEvent, type MmapEvent, type MprotectEvent } from '../src/events';
import { launch, parkedInRead } from '../src/launch';
import { startProbes, type Probes } from '../src/probes';
import { buildFixture, canRunBpf, describeBpf, ia32Emulation, ROOT, sleep, startWaiting, trigger } from './helpers/env';

const MAP_PRIVATE_ANON = 0x22;
const AT_EMPTY_PATH = 0x1000;

/** A small shared library to load from memory. */
const payload = () => buildFixture('test/fixtures/payload.c', ['-shared', '-fPIC']);

/** Whether /dev/shm lets files be mapped executable (many systems mount it noexec). */
function shmExec(): boolean {
  const line = fs.readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === '/dev/shm');
  return line !== undefined && !line.split(' ')[3].split(',').includes('noexec');
}

/** What `trigger int80-wx` does, as the probes must report it: the ABI once, then the memory calls decoded. */
function expectInt80Memory({ pid, events }: { pid: number; events: KernelEvent[] }): void {
  expect(events.filter((e) => e.kind === 'syscall')).toEqual([expect.objectContaining({ pid, compat: true, name: 'i386:192' })]);
  const wx = events.filter((e): e is MmapEvent => e.kind === 'mmap');
  expect(wx).toEqual([expect.objectContaining({ pid, prot: 7, length: 4096, fd: -1, ok: true })]);
  expect(wx[0].result).toBeGreaterThan(0);
  expect(wx[0].result).toBeLessThan(2 ** 32); // a 32-bit mmap lands below 4 GiB
  const flips = events.filter((e): e is MprotectEvent => e.kind === 'mprotect');
  expect(flips).toEqual([expect.objectContaining({ pid, syscall: 'mprotect', prot: 5, length: 4096, ok: true })]);
  expect(flips[0].oldFlags! & 0x7).toBe(0x3); // was RW
}

describeBpf('probes on real processes', () => {
  let probes: Probes;
  const seen: KernelEvent[] = [];

  beforeAll(() => {
    trigger(); // compile before timing-sensitive tests
    probes = startProbes();
    probes.on('event', (e) => seen.push(e));
  });

  afterAll(async () => {
    await probes?.stop();
  });

  async function waitFor(pred: (e: KernelEvent) => boolean, what: string, ms = 10000): Promise<KernelEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = seen.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(5);
    }
  }

  /** Runs `trigger ARGS` as a target from a clean start; returns the events of it and its descendants. */
  async function follow(args: string[]): Promise<{ pid: number; events: KernelEvent[] }> {
    const w = startWaiting(args);
    await parkedInRead(w.pid, 5000); // the dynamic loader's own mappings are done
    probes.addTarget(w.pid);
    const code = await w.go();
    expect(code).toBe(0);
    await waitFor((e) => e.kind === 'exit' && e.pid === w.pid, `exit of ${w.pid}`);
    const family = new Set([w.pid]);
    for (const e of seen) if (e.kind === 'fork' && family.has(e.pid)) family.add(e.childPid);
    return { pid: w.pid, events: seen.filter((e) => family.has(e.pid)) };
  }

  const of = <K extends KernelEvent['kind']>(events: KernelEvent[], kind: K) =>
    events.filter((e): e is Extract<KernelEvent, { kind: K }> => e.kind === kind);

  it('sees a W+X mmap from the main thread, with its call site', async () => {
    const { pid, events } = await follow(['wx', '1']);
    const maps = of(events, 'mmap');
    expect(maps).toHaveLength(1);
    const m: MmapEvent = maps[0];
    expect(m).toMatchObject({ pid, tid: pid, prot: 7, flags: MAP_PRIVATE_ANON, fd: -1, length: 4096, ok: true, file: null });
    expect(m.result).toBeGreaterThan(0);
    expect(m.ip).toBeGreaterThan(0);
    expect(m.comm).toMatch(/^trigger/);
    expect(m.ppid).toBe(process.pid);
    expect(m.timeNs).toBeLessThanOrEqual(process.hrtime.bigint());
  });

  it('sees a W+X mmap from a second thread, attributed to that thread', async () => {
    const { pid, events } = await follow(['wx-thread']);
    const forks = of(events, 'fork');
    expect(forks).toHaveLength(1);
    expect(forks[0]).toMatchObject({ pid, thread: true, childPid: pid });
    const maps = of(events, 'mmap').filter((m) => m.prot === 7);
    expect(maps).toHaveLength(1);
    expect(maps[0].pid).toBe(pid);
    expect(maps[0].tid).toBe(forks[0].childTid);
    expect(maps[0].tid).not.toBe(pid);
  });

  it('sees a raw syscall made from anonymous executable memory, once per page', async () => {
    const { pid, events } = await follow(['shellcode']);
    const anon = of(events, 'anon-syscall');
    expect(anon).toHaveLength(1);
    expect(anon[0]).toMatchObject({ pid, nr: 10 }); // mprotect: hooked in every mode
    const wx = of(events, 'mmap').find((m) => m.prot === 7)!;
    expect(anon[0].vmaStart).toBe(wx.result);
    expect(anon[0].ip).toBeGreaterThanOrEqual(wx.result);
    expect(anon[0].ip).toBeLessThan(wx.result + 4096);
  });

  it('reports no syscall from anonymous memory for ordinary programs (libc, vDSO)', async () => {
    const { events } = await follow(['fork-exec']);
    expect(of(events, 'anon-syscall')).toEqual([]);
  });

  it('reports io_uring_setup, a syscall that opens a way around the syscall hooks', async () => {
    const { pid, events } = await follow(['io-uring']);
    const calls = of(events, 'syscall');
    expect(calls).toEqual([expect.objectContaining({ pid, nr: 425, name: 'io_uring_setup', args: [1, expect.any(Number), 0] })]);
  });

  it('sees io_uring requests as the syscalls they replace: OPENAT by its file, CONNECT by the peer, RENAMEAT by its names', async () => {
    const server = net.createServer((sock) => sock.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const read = await follow(['uring-read', '/etc/shadow']);
      expect(of(read.events, 'open').filter((e) => e.uring)).toEqual([
        expect.objectContaining({ pid: read.pid, syscall: 'openat', write: false, file: expect.objectContaining({ path: '/etc/shadow' }) }),
      ]);
      const conn = await follow(['uring-connect', '127.0.0.1', String(port)]);
      expect(of(conn.events, 'connect')).toEqual([
        expect.objectContaining({ pid: conn.pid, uring: true, family: 'inet', socketType: 'stream', address: '127.0.0.1', port, ok: true }),
      ]);
      const refused = await follow(['uring-connect', '127.0.0.1', '9']);
      expect(of(refused.events, 'connect')).toEqual([expect.objectContaining({ uring: true, address: '127.0.0.1', port: 9, result: -111 })]);
      const moved = await follow(['--scratch-root', 'uring-rename', '/etc/cron.d/wasmshark']);
      expect(of(moved.events, 'path')).toEqual([
        expect.objectContaining({ pid: moved.pid, uring: true, syscall: 'renameat', path: '/etc/cron.d/wasmshark', source: '/etc/cron.d/wasmshark.new' }),
      ]);
    } finally {
      server.close();
    }
  });

  it('sees renames, symlinks, truncates and unlinks with the path joined to the directory the kernel holds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-paths-'));
    try {
      const rel = await follow(['rename-onto', path.join(dir, 'unit.service')]);
      expect(of(rel.events, 'path')).toEqual([expect.objectContaining({ syscall: 'rename', path: path.join(dir, 'unit.service'), source: path.join(dir, 'unit.service.new') })]);
      const link = await follow(['--scratch-root', 'symlink', '/etc/shadow', '/root/l']);
      expect(of(link.events, 'path').map((e) => `${e.syscall} ${e.path} ${e.source}`)).toEqual(['unlink /root/l ', 'symlink /root/l /etc/shadow']);
      const cut = await follow(['--scratch-root', 'truncate', '/var/log/auth.log']);
      expect(of(cut.events, 'path').map((e) => `${e.syscall} ${e.path}`)).toEqual(['truncate /var/log/auth.log']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("flags an exec whose stdin/stdout is a socket, and reports packet and raw sockets", async () => {
    const server = net.createServer((sock) => sock.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { events } = await follow(['reverse-shell', '127.0.0.1', String((server.address() as net.AddressInfo).port)]);
      expect(of(events, 'exec')).toEqual([expect.objectContaining({ image: '/bin/sh', stdioSocket: true, ok: true })]);
    } finally {
      server.close();
    }
    // this test's children have unix socketpairs for stdio (Node's pipes): not a network connection
    const plain = await follow(['fork-exec']);
    expect(of(plain.events, 'exec')).toEqual([expect.objectContaining({ image: '/bin/echo', stdioSocket: false })]);
    const packet = await follow(['raw-socket', 'packet']);
    expect(of(packet.events, 'syscall')).toEqual([expect.objectContaining({ name: 'socket', args: [17, 3, 768] })]);
  });

  // Some kernels here run with IA-32 emulation off: there int 0x80 is a fault, not a syscall.
  const ia32 = canRunBpf ? ia32Emulation() : { ok: true as const };
  if (!ia32.ok) console.warn(`skipping the int 0x80 probe test: ${ia32.reason}`);
  (ia32.ok ? it : it.skip)('reports the 32-bit syscall ABI (int 0x80) from a 64-bit process, once', async () => {
    expect(probes.hooks.compat).toBe(true);
    const { pid, events } = await follow(['int80']);
    expect(of(events, 'syscall')).toEqual([expect.objectContaining({ pid, nr: 20, compat: true, name: 'i386:20' })]);
  });

  (ia32.ok ? it : it.skip)('sees a W+X mmap2 and an RW->RX mprotect made through int 0x80, as their 64-bit twins', async () => {
    expectInt80Memory(await follow(['int80-wx']));
  });

  it('hooks 32-bit syscalls exactly where int 0x80 makes one', () => {
    expect(probes.hooks).toMatchObject({ ia32: ia32.ok, compat: ia32.ok });
    const names = probes.programs().map((p) => p.name);
    expect(names.filter((n) => n.startsWith('lean_compat_')).sort()).toEqual(ia32.ok ? ['lean_compat_enter', 'lean_compat_exit'] : []);
  });

  it('sees RW memory made executable, and executable memory made writable, but not a no-op flip', async () => {
    const { events } = await follow(['rw-rx']);
    const prots: MprotectEvent[] = of(events, 'mprotect');
    expect(prots).toHaveLength(2);
    const [toRx, toRwx] = prots;
    expect(toRx).toMatchObject({ syscall: 'mprotect', prot: 5, length: 4096, ok: true });
    expect(toRx.oldFlags! & 0x7).toBe(0x3); // was RW
    expect(toRwx).toMatchObject({ prot: 7, addr: toRx.addr });
    expect(toRwx.oldFlags! & 0x7).toBe(0x5); // was RX
  });

  it('attributes a fork+exec child to the child and links it to its parent', async () => {
    const { pid, events } = await follow(['fork-exec']);
    const fork = of(events, 'fork').find((f) => !f.thread) as ForkEvent;
    expect(fork).toBeDefined();
    const exec = of(events, 'exec')[0] as ExecEvent;
    expect(exec).toMatchObject({
      pid: fork.childPid,
      ppid: pid,
      syscall: 'execve',
      filename: '/bin/echo',
      argv: ['echo', 'wasmshark-child', 'second-arg'],
      argc: 3,
      image: '/bin/echo',
      comm: 'echo',
      entrySeen: true,
      ok: true,
    });
    const exits = of(events, 'exit').map((e) => e.pid);
    expect(exits).toEqual(expect.arrayContaining([pid, fork.childPid]));
  });

  it('follows posix_spawn', async () => {
    const { pid, events } = await follow(['spawn']);
    const exec = of(events, 'exec')[0];
    expect(exec).toMatchObject({ ppid: pid, filename: '/bin/echo', argv: ['echo', 'spawned-by-posix-spawn'], ok: true });
    expect(exec.pid).not.toBe(pid);
  });

  it('follows a double fork to the grandchild exec', async () => {
    const { pid, events } = await follow(['double-fork']);
    const forks = of(events, 'fork').filter((f) => !f.thread);
    expect(forks).toHaveLength(2);
    const [toMid, toGrandchild] = forks;
    expect(toMid.pid).toBe(pid);
    expect(toGrandchild.pid).toBe(toMid.childPid);
    const exec = await waitFor((e) => e.kind === 'exec' && e.pid === toGrandchild.childPid, 'grandchild exec');
    expect(exec).toMatchObject({ argv: ['echo', 'grandchild'], ok: true });
  });

  it('decodes connect() to 127.0.0.1:9001 and [::1]:9050 with address, port and result', async () => {
    const listen = (port: number, host: string) =>
      new Promise<net.Server | null>((resolve) => {
        const server = net.createServer((s) => s.destroy());
        server.once('error', () => resolve(null)); // port taken: connect still happens, refused or not
        server.listen(port, host, () => resolve(server));
      });
    const servers = [await listen(9001, '127.0.0.1'), await listen(9050, '::1')];
    try {
      const a = await follow(['connect', '127.0.0.1', '9001']);
      const b = await follow(['connect', '::1', '9050']);
      const c4 = of(a.events, 'connect')[0] as ConnectEvent;
      const c6 = of(b.events, 'connect')[0] as ConnectEvent;
      expect(c4).toMatchObject({ family: 'inet', address: '127.0.0.1', port: 9001, socketType: 'stream' });
      expect(c6).toMatchObject({ family: 'inet6', address: '::1', port: 9050, socketType: 'stream' });
      if (servers[0]) expect(c4).toMatchObject({ result: 0, ok: true });
      if (servers[1]) expect(c6).toMatchObject({ result: 0, ok: true });
      expect(c4.fd).toBeGreaterThanOrEqual(3);
    } finally {
      for (const s of servers) s?.close();
    }
  });

  it('sees memfd_create and the fexecve of the memfd', async () => {
    const { pid, events } = await follow(['memfd-exec']);
    const memfd = of(events, 'memfd')[0];
    expect(memfd).toMatchObject({ pid, name: 'wasmshark-payload', ok: true });
    expect(memfd.result).toBeGreaterThanOrEqual(3);
    const exec = of(events, 'exec')[0];
    expect(exec).toMatchObject({
      pid,
      syscall: 'execveat',
      dfd: memfd.result,
      filename: '',
      argv: ['payload', 'from-memfd'],
      ok: true,
    });
    expect(exec.atFlags & AT_EMPTY_PATH).toBe(AT_EMPTY_PATH);
    expect(exec.image).toBe(`/dev/fd/${memfd.result}`);
  });

  it('reports a failed exec with its errno', async () => {
    const { pid, events } = await follow(['exec-missing']);
    const exec = of(events, 'exec');
    expect(exec).toHaveLength(1);
    expect(exec[0]).toMatchObject({ pid, filename: '/nonexistent/wasmshark-missing', argv: ['missing', 'x'], ok: false, result: -2, image: '' });
  });

  describe('what needs no W+X mapping', () => {
    let dir: string;
    beforeAll(() => {
      payload();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-probes-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('a library loaded from a memfd: its executable mapping carries the memfd', async () => {
      const { events } = await follow(['memfd-load', payload()]);
      const code = of(events, 'mmap').filter((m) => m.file?.memfd);
      expect(code).toEqual([
        expect.objectContaining({
          prot: 5,
          ok: true,
          image: true, // ld.so mapped the file's headers right below its code
          file: expect.objectContaining({ path: '/memfd:wasmshark-lib', nlink: 0, memfd: true, detached: true, magic: TMPFS_MAGIC, truncated: false }),
        }),
      ]);
      // dlopen went through /proc/self/fd/N: the open is of the memfd itself
      expect(of(events, 'open').map((o) => o.file.path)).toEqual(expect.arrayContaining([payload(), '/memfd:wasmshark-lib']));
    });

    it('code mapped from an O_TMPFILE file and from a file unlinked first: no links left', async () => {
      const tmp = await follow(['tmpfile-map', dir]);
      const t = of(tmp.events, 'mmap').find((m) => m.prot === 5 && m.fd >= 0)!;
      expect(t.file).toMatchObject({ path: expect.stringMatching(new RegExp(`^${dir}/#\\d+$`)), nlink: 0, memfd: false, detached: false });
      expect(t.image).toBe(false); // one page of code, nothing of it below
      const gone = await follow(['unlinked-map', dir]);
      const u = of(gone.events, 'mmap').find((m) => m.prot === 5 && m.fd >= 0)!;
      expect(u.file).toMatchObject({ path: expect.stringMatching(new RegExp(`^${dir}/wasmshark-code-`)), nlink: 0, memfd: false });
      // the same file at open, while it still had its name
      expect(of(gone.events, 'open')).toEqual([expect.objectContaining({ write: true, file: expect.objectContaining({ path: u.file!.path, nlink: 1 }) })]);
    });

    (shmExec() ? it : it.skip)('code mapped from a file in /dev/shm', async () => {
      const { pid, events } = await follow(['shm-map']);
      const m = of(events, 'mmap').find((e) => e.prot === 5 && e.fd >= 0)!;
      expect(m.file).toMatchObject({ path: `/dev/shm/wasmshark-code-${pid}`, magic: TMPFS_MAGIC, nlink: 1 });
    });

    it('a raw syscall from code in a memfd mapping: a syscall site, with the memfd', async () => {
      const { pid, events } = await follow(['memfd-shellcode']);
      const anon = of(events, 'anon-syscall');
      expect(anon).toEqual([expect.objectContaining({ pid, nr: 10, memfd: expect.objectContaining({ path: '/memfd:wasmshark-code', memfd: true }) })]);
      const m = of(events, 'mmap').find((e) => e.file?.memfd)!;
      expect(anon[0].vmaStart).toBe(m.result);
    });

    it('/proc/self/mem opened for writing, by its path and by a dfd and a relative name: the kernel names the pid', async () => {
      for (const how of [[], ['relative']]) {
        const { pid, events } = await follow(['proc-mem-self', ...how]);
        const mem = of(events, 'open').filter((o) => o.procMem);
        expect(mem).toEqual([
          expect.objectContaining({ pid, write: true, file: expect.objectContaining({ path: `/proc/${pid}/mem`, magic: PROC_SUPER_MAGIC }) }),
        ]);
      }
    });

    it("another process's /proc/PID/mem, a ptrace poke and process_vm_writev: each names the other process", async () => {
      const child = (events: KernelEvent[], pid: number) => of(events, 'fork').find((f) => f.pid === pid && !f.thread)!.childPid;
      const a = await follow(['proc-mem-child']);
      const target = child(a.events, a.pid);
      expect(of(a.events, 'open').filter((o) => o.procMem)).toEqual([
        expect.objectContaining({ pid: a.pid, write: true, file: expect.objectContaining({ path: `/proc/${target}/mem` }) }),
      ]);
      const b = await follow(['ptrace-poke']);
      const traced = child(b.events, b.pid);
      const pokes = of(b.events, 'syscall').filter((c) => c.pid === b.pid && c.name === 'ptrace' && c.args[0] === 4);
      expect(pokes).toHaveLength(1);
      expect(pokes[0].args[1]).toBe(traced);
      expect(pokes[0].args[2]).toBeGreaterThan(0);
      const c = await follow(['vm-write-child']);
      const writes = of(c.events, 'syscall').filter((e) => e.name === 'process_vm_writev');
      expect(writes).toEqual([expect.objectContaining({ pid: c.pid, args: [child(c.events, c.pid), expect.any(Number), 1] })]);
      expect(writes[0].remoteAddr).toBeGreaterThan(0x1000);
    });

    it('a file opened three times, through a relative path and a symlink: one open, by the path the kernel resolved', async () => {
      const secret = path.join(dir, 'credentials');
      fs.writeFileSync(secret, 'x');
      fs.symlinkSync(secret, path.join(dir, 'link'));
      const relative = path.relative(ROOT, path.join(dir, 'link'));
      expect(relative.startsWith('..')).toBe(true);
      const { pid, events } = await follow(['read-file', relative, '3']);
      expect(of(events, 'open').filter((o) => o.file.path.startsWith(dir))).toEqual([
        expect.objectContaining({ pid, syscall: 'openat', write: false, procMem: false, file: expect.objectContaining({ path: secret, nlink: 1 }) }),
      ]);
      expect(of(events, 'open').every((o) => o.fd >= 0 && !o.file.truncated)).toBe(true);
    });
  });

  it('reports the target exit with its code and drops it from the set', async () => {
    const w = startWaiting(['sleep', '10']);
    await parkedInRead(w.pid, 5000);
    probes.addTarget(w.pid);
    expect(probes.hasTarget(w.pid)).toBe(true);
    w.child.kill('SIGTERM');
    const exit = await waitFor((e) => e.kind === 'exit' && e.pid === w.pid, 'exit');
    expect(exit).toMatchObject({ signal: 15, exitCode: null });
    expect(probes.hasTarget(w.pid)).toBe(false);
  });

  it('reports nothing for the same actions by an unrelated process', async () => {
    const modes = [
      ['wx', '3'], ['wx-thread'], ['rw-rx'], ['fork-exec'], ['memfd-exec'], ['connect', '127.0.0.1', '9001'],
      ['memfd-load', payload()], ['proc-mem-self'], ['ptrace-poke'], ['read-file', '/etc/hostname'],
    ];
    const bystanders = modes.map((m) => startWaiting(m));
    await Promise.all(bystanders.map((b) => b.go()));
    // a followed process acting after them: once its events are in, theirs would be too
    await follow(['wx', '1']);
    const pids = new Set(bystanders.map((b) => b.pid));
    expect(seen.filter((e) => pids.has(e.pid) || pids.has(e.ppid))).toEqual([]);
  });

  it('does not follow a reused pid: the start time must match', async () => {
    const w = startWaiting(['wx', '2']);
    await parkedInRead(w.pid, 5000);
    const real = probes.addTarget(w.pid);
    probes.addTarget(w.pid, real.startTicks + 1); // as if an earlier process had owned the pid
    await w.go();
    await follow(['wx', '1']); // flush: later events are in
    expect(seen.filter((e) => e.pid === w.pid)).toEqual([]);
    expect(probes.hasTarget(w.pid)).toBe(false);
  });

  it('launch mode follows a command from its first instruction', async () => {
    const { child, pid } = await launch(probes, trigger(), ['wx', '1'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor((e) => e.kind === 'exit' && e.pid === pid, 'launched exit');
    const mine = seen.filter((e) => e.pid === pid);
    // the exec of the command comes first: nothing of the gate shell, everything of the command
    expect(mine[0]).toMatchObject({ kind: 'exec', filename: trigger(), ok: true, entrySeen: true });
    // the dynamic loader maps libc executable before main() runs: seen too
    const maps = of(mine, 'mmap');
    expect(maps.some((m) => m.fd >= 0 && m.prot === 5)).toBe(true);
    expect(maps.filter((m) => m.prot === 7 && m.fd === -1)).toHaveLength(1);
  });
});

describeBpf('probes with exact syscall hooks (--syscalls exact)', () => {
  let probes: Probes;
  const seen: KernelEvent[] = [];

  beforeAll(() => {
    trigger();
    probes = startProbes({ syscalls: 'exact' });
    probes.on('event', (e) => seen.push(e));
  });

  afterAll(async () => {
    await probes?.stop();
  });

  it('sees a kernel module load attempt, on kernels with no module support too (no per-syscall tracepoint there)', async () => {
    const w = startWaiting(['module-load']);
    await parkedInRead(w.pid, 5000);
    probes.addTarget(w.pid);
    expect(await w.go()).toBe(0);
    const deadline = Date.now() + 10000;
    while (!seen.some((e) => e.kind === 'exit' && e.pid === w.pid) && Date.now() < deadline) await sleep(5);
    expect(seen.filter((e) => e.kind === 'syscall' && e.pid === w.pid)).toEqual([expect.objectContaining({ name: 'finit_module', nr: 313 })]);
  });

  it('sees a raw syscall from anonymous memory that the lean hooks do not cover, and counts every syscall', async () => {
    expect(probes.hooks.syscalls).toBe('exact');
    const w = startWaiting(['shellcode', 'getpid']);
    await parkedInRead(w.pid, 5000);
    probes.addTarget(w.pid);
    expect(await w.go()).toBe(0);
    const deadline = Date.now() + 10000;
    while (!seen.some((e) => e.kind === 'exit' && e.pid === w.pid) && Date.now() < deadline) await sleep(5);
    const anon = seen.filter((e) => e.kind === 'anon-syscall' && e.pid === w.pid);
    expect(anon).toEqual([expect.objectContaining({ nr: 39 })]);
    // getpid (39) from the shellcode, and the write of its line (1)
    const counts = probes.syscallCounts();
    expect(counts.get(39)).toBeGreaterThanOrEqual(1);
    expect(counts.get(1)).toBeGreaterThanOrEqual(1);
  });

  it('sees opens and the files behind memory through sys_exit as the lean hooks do', async () => {
    const run = async (args: string[]) => {
      const w = startWaiting(args);
      await parkedInRead(w.pid, 5000);
      probes.addTarget(w.pid);
      expect(await w.go()).toBe(0);
      const deadline = Date.now() + 10000;
      while (!seen.some((e) => e.kind === 'exit' && e.pid === w.pid) && Date.now() < deadline) await sleep(5);
      return { pid: w.pid, events: seen.filter((e) => e.pid === w.pid) };
    };
    const lib = await run(['memfd-load', payload()]);
    expect(lib.events.filter((e) => e.kind === 'mmap' && e.file?.memfd)).toHaveLength(1);
    const mem = await run(['proc-mem-self', 'relative']);
    expect(mem.events.filter((e) => e.kind === 'open' && e.procMem)).toEqual([
      expect.objectContaining({ write: true, file: expect.objectContaining({ path: `/proc/${mem.pid}/mem` }) }),
    ]);
  });

  const ia32 = canRunBpf ? ia32Emulation() : { ok: true as const };
  (ia32.ok ? it : it.skip)('decodes the memory calls made through int 0x80 as the lean hooks do', async () => {
    const w = startWaiting(['int80-wx']);
    await parkedInRead(w.pid, 5000);
    probes.addTarget(w.pid);
    expect(await w.go()).toBe(0);
    const deadline = Date.now() + 10000;
    while (!seen.some((e) => e.kind === 'exit' && e.pid === w.pid) && Date.now() < deadline) await sleep(5);
    expectInt80Memory({ pid: w.pid, events: seen.filter((e) => e.pid === w.pid) });
  });

  it('lean hooks do not see that syscall at all', async () => {
    const lean = startProbes();
    const got: KernelEvent[] = [];
    lean.on('event', (e) => got.push(e));
    try {
      const w = startWaiting(['shellcode', 'getpid']);
      await parkedInRead(w.pid, 5000);
      lean.addTarget(w.pid);
      expect(await w.go()).toBe(0);
      const deadline = Date.now() + 10000;
      while (!got.some((e) => e.kind === 'exit' && e.pid === w.pid) && Date.now() < deadline) await sleep(5);
      expect(got.filter((e) => e.kind === 'anon-syscall')).toEqual([]);
      expect(got.filter((e) => e.kind === 'mmap' && e.prot === 7)).toHaveLength(1);
      expect(lean.syscallCounts().size).toBe(0);
    } finally {
      await lean.stop();
    }
  });
});
