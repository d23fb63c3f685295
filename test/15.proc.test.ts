/**
 * The /proc source: its parsers on realistic and hostile text, then the
 * source itself against real child processes (no root needed: it reads the
 * /proc entries of our own children).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { ProcEvent } from '../src/events';
import { readFdTargets, readFdWindow, socketInodes } from '../src/proc/fds';
import { parseEnvironNames, parseMaps, parseNetTable, parseSyscall } from '../src/proc/parse';
import { Clock } from '../src/clock';
import { ProcSource } from '../src/sources/proc/source';
import { buildFixture, sleep, startWaiting } from './helpers/env';

const SECRET = 's3cr3t-value';

describe('parseEnvironNames', () => {
  it('returns names only, never a value, even one containing =', () => {
    const buf = Buffer.from(
      `PATH=/usr/bin:/bin\0GITHUB_TOKEN=${SECRET}\0DATABASE_URL=postgres://u:${SECRET}@db/x?a=b\0EMPTY=\0HOME=/root\0`,
    );
    const names = parseEnvironNames(buf);
    expect(names).toEqual(['PATH', 'GITHUB_TOKEN', 'DATABASE_URL', 'EMPTY', 'HOME']);
    expect(JSON.stringify(names)).not.toContain(SECRET);
    expect(JSON.stringify(names)).not.toContain('postgres');
  });

  it('skips entries without = or with an empty name, and a last entry without NUL still counts', () => {
    const names = parseEnvironNames(Buffer.from(`NOEQUALS\0=${SECRET}\0\0\0A=1\0B=${SECRET}`));
    expect(names).toEqual(['A', 'B']);
    expect(JSON.stringify(names)).not.toContain(SECRET);
  });

  it('cuts long names at 256 bytes and stops at 4096 names', () => {
    const long = 'N'.repeat(1000);
    expect(parseEnvironNames(Buffer.from(`${long}=${SECRET}\0`))).toEqual(['N'.repeat(256)]);
    const many = Array.from({ length: 5000 }, (_, i) => `V${i}=x`).join('\0');
    const names = parseEnvironNames(Buffer.from(many));
    expect(names).toHaveLength(4096);
    expect(names[4095]).toBe('V4095');
  });

  it('keeps non-ASCII names as text and never throws on junk', () => {
    expect(parseEnvironNames(Buffer.from('CLÉ=1\0'))).toEqual(['CLÉ']);
    expect(parseEnvironNames(Buffer.from([0xff, 0xfe, 0x3d, 0x00]))).toEqual(['\ufffd\ufffd']);
    expect(parseEnvironNames(Buffer.alloc(0))).toEqual([]);
    for (let i = 0; i < 200; i++) {
      expect(() => parseEnvironNames(randomBytes(i * 7))).not.toThrow();
    }
  });
});

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C13A 0100007F:2329 01 00000000:00000000 00:00000000 00000000  1000        0 41299 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:2329 0100007F:C13A 06 00000000:00000000 03:00000772 00000000     0        0 0 3 0000000000000000
   3: 0A00020F:8A3C 22D8B85D:01BB 02 00000001:00000000 01:00000100 00000002  1000        0 41300 2 0000000000000000 200 0 0 10 -1
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:235A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:A5B4 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 5152 1 0000000000000000 20 4 30 10 -1
   2: B80D0120000000000000000001000000:0050 B80D01200000000000000000EFBEADDE:C350 08 00000000:00000000 00:00000000 00000000    33        0 5153 1 0000000000000000 20 4 30 10 -1
`;

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  771: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 1700 2 0000000000000000 0
 1201: 0100007F:D431 0100007F:0035 01 00000000:00000000 00:00000000 00000000  1000        0 1701 2 0000000000000000 0
`;

describe('parseNetTable', () => {
  it('decodes IPv4 TCP entries (host-order words) and skips the header', () => {
    const entries = parseNetTable(TCP, 'tcp', 'inet');
    expect(entries).toEqual([
      { localAddress: '0.0.0.0', localPort: 8080, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN', inode: 41234, uid: 1000 },
      { localAddress: '127.0.0.1', localPort: 49466, remoteAddress: '127.0.0.1', remotePort: 9001, state: 'ESTABLISHED', inode: 41299, uid: 1000 },
      { localAddress: '127.0.0.1', localPort: 9001, remoteAddress: '127.0.0.1', remotePort: 49466, state: 'TIME_WAIT', inode: 0, uid: 0 },
      { localAddress: '15.2.0.10', localPort: 35388, remoteAddress: '93.184.216.34', remotePort: 443, state: 'SYN_SENT', inode: 41300, uid: 1000 },
    ]);
  });

  it('decodes IPv6 entries: ::1, IPv4-mapped and a global address, in RFC 5952 form', () => {
    const entries = parseNetTable(TCP6, 'tcp', 'inet6');
    expect(entries.map((e) => [e.localAddress, e.localPort, e.remoteAddress, e.remotePort, e.state, e.inode])).toEqual([
      ['::1', 9050, '::', 0, 'LISTEN', 5151],
      ['::ffff:127.0.0.1', 42420, '::ffff:127.0.0.1', 8080, 'ESTABLISHED', 5152],
      ['2001:db8::1', 80, '2001:db8::dead:beef', 50000, 'CLOSE_WAIT', 5153],
    ]);
  });

  it('names UDP states UNCONN and ESTABLISHED', () => {
    const entries = parseNetTable(UDP, 'udp', 'inet');
    expect(entries.map((e) => [e.localAddress, e.localPort, e.state, e.remotePort])).toEqual([
      ['127.0.0.53', 53, 'UNCONN', 0],
      ['127.0.0.1', 54321, 'ESTABLISHED', 53],
    ]);
  });

  it('skips malformed lines and never throws', () => {
    const junk = [
      'garbage',
      '   0: 0100007F:2329',
      '   1: ZZZZZZZZ:2329 0100007F:2329 01 0:0 0:0 0 0 0 7',
      '   2: 0100007F:2329 0100007F:2329 01 0:0 0:0 0 0 0 notanumber',
      '   3: 00000000000000000000000001000000:235A 00000000:0000 0A 0:0 0:0 0 0 0 9', // IPv6 in an IPv4 table
      '   4: 0100007F:2329 0100007F:0050 0A 0:0 0:0 0 0 0 77',
    ].join('\n');
    expect(parseNetTable(junk, 'tcp', 'inet').map((e) => e.inode)).toEqual([77]);
    expect(parseNetTable('', 'udp', 'inet6')).toEqual([]);
    expect(parseNetTable(TCP, 'tcp', 'inet6')).toEqual([]);
    for (let i = 0; i < 200; i++) {
      expect(() => parseNetTable(randomBytes(i * 5).toString('latin1'), 'tcp', 'inet')).not.toThrow();
    }
  });
});

const MAPS = [
  '55d0c4a00000-55d0c4a02000 r--p 00000000 fe:00 260386                     /usr/bin/wasmtime',
  '55d0c4a02000-55d0c4a08000 r-xp 00002000 fe:00 260386                     /usr/bin/wasmtime',
  '55d0c5e1e000-55d0c5e3f000 rw-p 00000000 00:00 0                          [heap]',
  '7f1c2a000000-7f1c2a400000 rwxp 00000000 00:00 0 ',
  '7f1c2a400000-7f1c2a401000 rwxs 00000000 00:01 4242                       /memfd:jit (deleted)',
  '7f1c2b000000-7f1c2b010000 r-xp 00001000 fe:00 1337                       /tmp/my dir/lib payload.so (deleted)',
  '7ffd6b1c2000-7ffd6b1e3000 rw-p 00000000 00:00 0                          [stack]',
  'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
].join('\n');

describe('parseMaps', () => {
  it('parses addresses, permissions, inodes and paths with spaces or (deleted)', () => {
    const entries = parseMaps(`${MAPS}\n`);
    expect(entries).toHaveLength(8);
    expect(entries[0]).toEqual({ start: 0x55d0c4a00000, end: 0x55d0c4a02000, perms: 'r--p', offset: 0, inode: 260386, path: '/usr/bin/wasmtime' });
    expect(entries[2].path).toBe('[heap]');
    expect(entries[3]).toEqual({ start: 0x7f1c2a000000, end: 0x7f1c2a400000, perms: 'rwxp', offset: 0, inode: 0, path: '' });
    expect(entries[4]).toMatchObject({ perms: 'rwxs', inode: 4242, path: '/memfd:jit (deleted)' });
    expect(entries[5]).toMatchObject({ offset: 0x1000, path: '/tmp/my dir/lib payload.so (deleted)' });
    expect(entries[7].perms).toBe('--xp');
  });

  it('parses an anonymous line without a trailing space, and the real maps of this process', () => {
    expect(parseMaps('7f0000000000-7f0000001000 rwxp 00000000 00:00 0')[0]).toMatchObject({ perms: 'rwxp', path: '' });
    const own = parseMaps(fs.readFileSync('/proc/self/maps', 'utf8'));
    expect(own.length).toBeGreaterThan(10);
    expect(own.some((m) => m.path === '[stack]')).toBe(true);
    expect(own.every((m) => m.end > m.start)).toBe(true);
  });

  it('skips malformed lines, honours a cap, and never throws', () => {
    const text = ['nonsense', '1000-2000 rwxp', 'zzzz-2000 rwxp 00000000 00:00 0', '1000-2000 rwxp 00000000 00:00 0 x'].join('\n');
    expect(parseMaps(text)).toEqual([{ start: 0x1000, end: 0x2000, perms: 'rwxp', offset: 0, inode: 0, path: 'x' }]);
    expect(parseMaps(`${MAPS}\n${MAPS}`, 3)).toHaveLength(3);
    for (let i = 0; i < 200; i++) {
      expect(() => parseMaps(randomBytes(i * 9).toString('latin1'))).not.toThrow();
    }
  });
});

describe('parseSyscall', () => {
  it('reads the number, running, or null when outside a syscall', () => {
    expect(parseSyscall('270 0xfb 0x7ffda04c8a40 0x0 0x0 0x7ffda04c8950 0x7ffda04c8960 0x7ffda04c8920 0x7f53d3467aec\n')).toEqual({ nr: 270 });
    expect(parseSyscall('0 0x0 0x7ffc 0x1 0x0 0x0 0x0 0x7ffc 0x7f00\n')).toEqual({ nr: 0 });
    expect(parseSyscall('running\n')).toBe('running');
    expect(parseSyscall('-1 0x7ffd1c4c0a48 0x55a4a0a1c2f5\n')).toBeNull();
    expect(parseSyscall('')).toBeNull();
    expect(parseSyscall('abc 0x1')).toBeNull();
    expect(parseSyscall('1e3 0x1')).toBeNull();
  });
});

describe('fds', () => {
  it('lists this process\'s fds with targets and finds socket inodes', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const targets = readFdTargets(process.pid);
      expect(targets.length).toBeGreaterThan(2);
      const inodes = socketInodes(targets);
      expect(inodes.size).toBeGreaterThan(0);
      expect(socketInodes([{ fd: 3, target: 'socket:[123]' }, { fd: 4, target: 'pipe:[5]' }, { fd: 5, target: '/socket:[6]' }])).toEqual(new Set([123]));
      expect(readFdTargets(process.pid, 2)).toHaveLength(2);
    } finally {
      server.close();
    }
  });

  it('reads fds in windows that together cover them all', () => {
    const all = readFdWindow(process.pid, 0, 1 << 20);
    expect(all.complete).toBe(true);
    const first = readFdWindow(process.pid, 0, 2);
    expect(first).toMatchObject({ complete: false });
    expect(first.targets).toHaveLength(2);
    const rest = readFdWindow(process.pid, 2, 1 << 20);
    expect(rest.complete).toBe(true);
    expect([...first.targets, ...rest.targets].map((t) => t.fd).sort((a, b) => a - b)).toEqual(all.targets.map((t) => t.fd).sort((a, b) => a - b));
    expect(readFdWindow(process.pid, 0, 1 << 20, 1)).toMatchObject({ complete: false });
  });

  it('returns nothing for a process that does not exist', () => {
    expect(readFdTargets(0x3ffffff0)).toEqual([]);
  });
});

/* ---------------- the source against real processes ---------------- */

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  // Bias towards the separators the parsers look for.
  for (let i = 0; i < n; i += 5) b[i] = [0, 0x3d, 0x0a, 0x20, 0x3a][i % 5];
  return b;
}

async function waitFor<T>(get: () => T | undefined, what: string, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = get();
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Collects a source's events; always stops it and kills what it spawned afterwards. */
class Harness {
  readonly events: ProcEvent[] = [];
  readonly errors: Error[] = [];
  private sources: ProcSource[] = [];
  private children: ChildProcess[] = [];
  private pids: number[] = [];

  watch(source: ProcSource): ProcSource {
    source.on('event', (e) => this.events.push(e));
    source.on('error', (e) => this.errors.push(e));
    this.sources.push(source);
    return source;
  }

  spawn(bin: string, args: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): ChildProcess {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.children.push(child);
    return child;
  }

  killLater(pid: number): void {
    this.pids.push(pid);
  }

  of<K extends ProcEvent['kind']>(kind: K, pid?: number): Array<Extract<ProcEvent, { kind: K }>> {
    return this.events.filter((e): e is Extract<ProcEvent, { kind: K }> => e.kind === kind && (pid === undefined || e.pid === pid));
  }

  find<K extends ProcEvent['kind']>(kind: K, pred: (e: Extract<ProcEvent, { kind: K }>) => boolean, what: string): Promise<Extract<ProcEvent, { kind: K }>> {
    return waitFor(() => this.of(kind).find(pred), what);
  }

  cleanup(): void {
    for (const s of this.sources) s.stop();
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Resolves with the first line the child prints. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.off('data', onData);
        resolve(text.slice(0, nl));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing a line`)));
  });
}

describe('ProcSource on real processes', () => {
  let h: Harness;
  beforeAll(() => {
    buildFixture('proc-hold');
    buildFixture('proc-rwx');
  });
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(() => h.cleanup());

  it('reports env names without values, an open file, its own TCP and UDP sockets only, and samples syscalls', async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-proc-')));
    const file = path.join(dir, 'kept open.txt');
    fs.writeFileSync(file, 'data');
    const server = net.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const serverPort = (server.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const udpPort = udp.address().port;
    try {
      const child = h.spawn(buildFixture('proc-hold'), [file, String(serverPort), String(udpPort)], {
        PATH: process.env.PATH,
        GITHUB_TOKEN: SECRET,
        WASMSHARK_PLAIN: 'a=b=c',
      });
      expect(await firstLine(child)).toBe('ready');
      const pid = child.pid!;
      const source = h.watch(new ProcSource(pid, { intervalMs: 50, sampleSyscalls: true, sampleIntervalMs: 10 }));
      source.start();

      const env = await h.find('env', (e) => e.pid === pid, 'env event');
      expect(env.names).toEqual(expect.arrayContaining(['PATH', 'GITHUB_TOKEN', 'WASMSHARK_PLAIN']));
      const opened = await h.find('file', (e) => e.pid === pid && e.path === file, 'file event');
      expect(opened.fd).toBeGreaterThanOrEqual(3);
      const tcp = await h.find('connection', (e) => e.protocol === 'tcp', 'tcp connection');
      expect(tcp).toMatchObject({ pid, family: 'inet', remoteAddress: '127.0.0.1', remotePort: serverPort, localAddress: '127.0.0.1', state: 'ESTABLISHED' });
      const unconn = await h.find('connection', (e) => e.protocol === 'udp', 'udp socket');
      expect(unconn).toMatchObject({ pid, state: 'UNCONN', remotePort: 0, localAddress: '127.0.0.1' });

      // connect() after bind: the same socket is reported again, now with its peer
      child.stdin!.write('connect\n');
      const connected = await h.find('connection', (e) => e.protocol === 'udp' && e.remotePort === udpPort, 'udp peer');
      expect(connected).toMatchObject({ pid, inode: unconn.inode, state: 'ESTABLISHED', remoteAddress: '127.0.0.1' });

      await waitFor(() => (source.samples() >= 5 ? true : undefined), 'samples');
      if (process.arch === 'x64') expect(source.syscallCounts().get(0)).toBeGreaterThan(0); // blocked in read(2)
      expect(source.pids()).toEqual([pid]);

      source.scanNow();
      // Only the child's sockets: never this process's listening or accepted ones.
      const connections = h.of('connection');
      expect(connections.every((c) => c.pid === pid && c.localPort !== serverPort && c.localPort !== udpPort)).toBe(true);
      expect(h.of('connection').filter((c) => c.protocol === 'tcp')).toHaveLength(1);
      // Each file reported once, whatever the number of passes.
      expect(h.of('file').filter((e) => e.path === file)).toHaveLength(1);
      expect(h.of('env')).toHaveLength(1);
      expect(JSON.stringify(h.events)).not.toContain(SECRET);
      expect(JSON.stringify(h.events)).not.toContain('a=b=c');
      expect(h.of('process')).toEqual([]); // the root is not a new process
      expect(h.errors).toEqual([]);
    } finally {
      server.close();
      udp.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a kept RWX region once', async () => {
    const child = h.spawn(buildFixture('proc-rwx'), []);
    const addr = parseInt(await firstLine(child), 16);
    const source = h.watch(new ProcSource(child.pid!, { intervalMs: 30 }));
    source.start();
    const region = await h.find('rwx-region', (e) => e.start === addr, 'rwx region');
    expect(region).toMatchObject({ pid: child.pid, end: addr + 8192, perms: 'rwxp', path: '' });
    await sleep(200); // several more passes
    expect(h.of('rwx-region').filter((e) => e.start === addr)).toHaveLength(1);
    expect(h.errors).toEqual([]);
  });

  it.each([
    ['children files', true],
    ['the /proc/*/stat ppid fallback', false],
  ])('finds a child of the root with its argv (%s)', async (_how, childrenFiles) => {
    const root = h.spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; wait']);
    h.killLater(Number(await firstLine(root)));
    const source = new ProcSource(root.pid!, { intervalMs: 30 });
    if (!childrenFiles) (source as unknown as { hasChildrenFiles: boolean }).hasChildrenFiles = false;
    h.watch(source).start();
    const proc = await h.find('process', (e) => e.argv[0] === 'sleep', 'sleep process');
    expect(proc).toMatchObject({ ppid: root.pid, comm: 'sleep', argv: ['sleep', '30'] });
    expect(proc.exe).toMatch(/\/sleep$/);
    await h.find('env', (e) => e.pid === proc.pid, 'env of the child');
    await waitFor(() => (source.pids().includes(proc.pid) ? true : undefined), 'child in pids()');
    expect(source.pids()).toContain(root.pid);
  });

  it('does not follow children when followChildren is false', async () => {
    const root = h.spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; wait']);
    h.killLater(Number(await firstLine(root)));
    const source = h.watch(new ProcSource(root.pid!, { intervalMs: 30, followChildren: false }));
    source.start();
    await h.find('env', (e) => e.pid === root.pid, 'env of the root');
    await sleep(300);
    expect(h.of('process')).toEqual([]);
    expect(source.pids()).toEqual([root.pid]);
  });

  it('follows a process added by another source, and nothing unrelated', async () => {
    const root = h.spawn('/bin/sh', ['-c', 'read _']);
    const unrelated = h.spawn('/bin/sh', ['-c', 'read _'], { PATH: process.env.PATH, GITHUB_TOKEN: SECRET });
    const added = h.spawn('/bin/sh', ['-c', 'read _'], { PATH: process.env.PATH, AWS_SECRET_ACCESS_KEY: SECRET });
    const source = h.watch(new ProcSource(root.pid!, { intervalMs: 30 }));
    source.start();
    source.addPid(added.pid!);
    const proc = await h.find('process', (e) => e.pid === added.pid, 'process event of the added pid');
    expect(proc.argv).toEqual(['/bin/sh', '-c', 'read _']);
    const env = await h.find('env', (e) => e.pid === added.pid, 'env of the added pid');
    expect(env.names).toContain('AWS_SECRET_ACCESS_KEY');
    await sleep(200);
    expect(h.events.filter((e) => e.pid === unrelated.pid)).toEqual([]);
    expect(JSON.stringify(h.events)).not.toContain(SECRET);
    expect(source.pids().sort()).toEqual([root.pid, added.pid].sort());
    expect(() => source.addPid(-1)).toThrow(/positive integer pid/);
  });

  it('emits target-exit exactly once when the root exits, then stops', async () => {
    const w = startWaiting(['sleep', '0']);
    const source = h.watch(new ProcSource(w.pid, { intervalMs: 30, sampleSyscalls: true }));
    source.start();
    await h.find('env', (e) => e.pid === w.pid, 'env of the root');
    expect(await w.go()).toBe(0);
    await h.find('target-exit', (e) => e.pid === w.pid, 'target-exit');
    const samples = source.samples();
    await sleep(200);
    source.scanNow();
    expect(h.of('target-exit')).toHaveLength(1);
    expect(source.pids()).toEqual([]);
    expect(source.samples()).toBe(samples); // sampling stopped too
    source.stop();
    source.stop();
  });

  it('reports target-exit at once for a pid that does not exist, without throwing', () => {
    const source = h.watch(new ProcSource(0x3ffffff0));
    expect(() => source.start()).not.toThrow();
    expect(h.events).toEqual([{ kind: 'target-exit', pid: 0x3ffffff0 }]);
    expect(h.errors).toEqual([]);
  });

  it('rejects bad arguments with specific messages', () => {
    expect(() => new ProcSource(0)).toThrow(/proc source root must be a positive integer pid, got 0/);
    expect(() => new ProcSource(1.5)).toThrow(/positive integer pid/);
    expect(() => new ProcSource(1, { intervalMs: 0 })).toThrow(/intervalMs must be a number of milliseconds/);
    expect(() => new ProcSource(1, { sampleIntervalMs: Number.NaN })).toThrow(/sampleIntervalMs/);
    expect(() => new ProcSource(1, { followChildren: 'yes' as unknown as boolean })).toThrow(/followChildren must be true or false/);
  });
});

describe('one clock for the periodic work', () => {
  afterEach(() => jest.useRealTimers());

  it('runs work that falls due together in one wake-up, slows quiet work down to its idle period and speeds it up when told', () => {
    jest.useFakeTimers();
    const clock = new Clock();
    const runs: string[] = [];
    const a = clock.every(100, () => {
      runs.push('a');
      a.quiet();
    }, { idleMs: 400 });
    clock.every(110, () => runs.push('b')); // within a quarter period of a: the same wake-up
    jest.advanceTimersByTime(100);
    expect(runs).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(1); // one timer, whatever the number of tasks
    // quiet: 200, then 400, and no longer than that
    expect(a.currentMs).toBe(200);
    runs.length = 0;
    jest.advanceTimersByTime(1200);
    expect(runs.filter((r) => r === 'a')).toHaveLength(3); // at 300, 700 and 1100 ms: 200, 400, 400 apart
    expect(a.currentMs).toBe(400);
    expect(a.weight).toBe(4);
    a.busy();
    expect(a.currentMs).toBe(100);
    runs.length = 0;
    jest.advanceTimersByTime(100);
    expect(runs).toContain('a');
    clock.stop();
    runs.length = 0;
    jest.advanceTimersByTime(1000);
    expect(runs).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps going when a task throws: the others run, the error reaches the caller once', () => {
    jest.useFakeTimers();
    const clock = new Clock();
    let ran = 0;
    clock.every(10, () => {
      throw new Error('boom');
    });
    clock.every(10, () => ran++);
    expect(() => jest.advanceTimersByTime(10)).toThrow('boom');
    expect(ran).toBe(1);
    expect(() => jest.advanceTimersByTime(10)).toThrow('boom');
    expect(ran).toBe(2);
    clock.stop();
  });
});

describe('an idle tree, followed with the kernel probes', () => {
  it('samples and passes slow down while nothing changes, samples stand for the time they cover, and a poke brings the pace back', async () => {
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    const source = new ProcSource(child.pid!, { intervalMs: 20, sampleSyscalls: true, sampleIntervalMs: 10, kernelFollows: true });
    try {
      source.start();
      expect(source.pace()).toEqual({ scanMs: 20, sampleMs: 10 });
      // sleep waits in one syscall: every sample is the same, so they space out
      await waitFor(() => (source.pace().sampleMs! >= 80 && source.pace().scanMs! >= 80 ? true : undefined), 'slower pace');
      const samples = source.samples();
      const total = [...source.syscallCounts().values()].reduce((x, y) => x + y, 0);
      expect(total).toBeGreaterThan(samples); // later samples weigh more than one
      source.poke();
      expect(source.pace()).toEqual({ scanMs: 20, sampleMs: 10 });
      // without the probes' word, the pace stays
      const plain = new ProcSource(child.pid!, { intervalMs: 20, sampleSyscalls: true, sampleIntervalMs: 10 });
      plain.start();
      await sleep(300);
      expect(plain.pace()).toEqual({ scanMs: 20, sampleMs: 10 });
      plain.stop();
    } finally {
      source.stop();
      child.kill();
    }
  });
});
