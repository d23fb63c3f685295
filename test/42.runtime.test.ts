/**
 * Runtime identification and runtime-aware judgement, without the kernel.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MmapEvent, MprotectEvent, ProcRwxEvent, TaskInfo } from '../src/events';
import { MapsCache, type CallSite } from '../src/runtime/callsite';
import { describeRuntime, identifyRuntime, readGoBuildInfo, type RuntimeInfo } from '../src/runtime/identify';
import { DEFAULT_RULES, RuleSet, type RuleContext } from '../src/rules';
import { spawn } from 'child_process';
import { isFfiClosurePage, trampolineTargets } from '../src/runtime/codegen';
import { directCallee } from '../src/runtime/elf';
import { libraryEntry, RUNTIMES } from '../src/runtime/registry';
import { ROOT, trigger, wasmtimeVenv } from './helpers/env';

const task: TaskInfo = { pid: 300, tid: 300, ppid: 1, uid: 0, comm: 'node', timeNs: 1n, ip: 0x7f0000100000 };
const V8: RuntimeInfo = { name: 'node', engine: 'V8', version: '20.20.2', jit: 'rwx-mprotect', modules: ['/usr/bin/node'] };
const JSC: RuntimeInfo = { name: 'bun', engine: 'JavaScriptCore', version: '1.4.5', jit: 'rwx-mmap', modules: ['/opt/bun'] };
const WASMTIME: RuntimeInfo = { name: 'wasmtime', engine: 'Cranelift', version: null, jit: 'wx-strict', modules: ['/usr/bin/wasmtime'] };

const rules = new RuleSet(DEFAULT_RULES);
function ctx(runtime: RuntimeInfo | null, site: CallSite, kernelSaw = false): RuleContext {
  return {
    procChildren: false,
    isLaunchExec: () => false,
    memfdName: () => undefined,
    runtime: () => runtime,
    callSite: () => site,
    kernelSawRegion: () => kernelSaw,
    mappedElf: () => null,
    commandLine: () => [],
  };
}
const fromFile = (p: string): CallSite => ({ kind: 'file', path: p, address: 0x555500001000 });
const fromAnon: CallSite = { kind: 'anonymous', path: '', address: 0x7f0000200000 };

const protect = (prot: number, oldFlags: number | null): MprotectEvent => ({
  ...task, kind: 'mprotect', syscall: 'mprotect', addr: 0x7f0000400000, length: 262144, prot, pkey: -1, oldFlags, result: 0, ok: true, stack: [], file: null,
});
const wxMap: MmapEvent = {
  ...task, kind: 'mmap', addr: 0, length: 4096, prot: 7, flags: 0x22, fd: -1, offset: 0, result: 0x7f0000500000, ok: true, stack: [], file: null, image: false,
};
const judged = (e: MmapEvent | MprotectEvent | ProcRwxEvent, c: RuleContext) => rules.evaluate(e, c).map((f) => `${f.level} ${f.rule}`);

describe('runtime-aware memory rules', () => {
  it("V8's RWX code space from node's own code is INFO and not a region", () => {
    const [f] = rules.evaluate(protect(7, 0x70), ctx(V8, fromFile('/usr/bin/node')));
    expect(f).toMatchObject({ level: 'INFO', rule: 'memory.jit-expected', title: 'Expected JIT code space (V8)' });
    expect(f.wxRegion).toBeUndefined();
    expect(f.evidence).toMatch(/site=\/usr\/bin\/node/);
    expect(judged(protect(5, 0x73), ctx(V8, fromFile('/usr/bin/node')))).toEqual(['INFO memory.jit-expected']);
  });

  it('the same mprotect from a native addon or from anonymous memory is CRITICAL', () => {
    const [f] = rules.evaluate(protect(7, 0x70), ctx(V8, fromFile('/tmp/evil.node')));
    expect(f).toMatchObject({ level: 'CRITICAL', rule: 'memory.jit-foreign-site', title: 'W+X mprotect() from outside the runtime: /tmp/evil.node' });
    expect(f.wxRegion).toBeDefined();
    expect(judged(protect(7, 0x70), ctx(V8, fromAnon))).toEqual(['CRITICAL memory.jit-foreign-site']);
  });

  it("a W+X mmap is not V8's pattern: CRITICAL wherever it comes from", () => {
    expect(judged(wxMap, ctx(V8, fromFile('/usr/bin/node')))).toEqual(['CRITICAL memory.wx-mmap']);
  });

  it("JavaScriptCore's one RWX mmap from bun is INFO; from elsewhere CRITICAL", () => {
    expect(judged(wxMap, ctx(JSC, fromFile('/opt/bun')))).toEqual(['INFO memory.jit-expected']);
    expect(judged(wxMap, ctx(JSC, fromFile('/usr/lib/libevil.so')))).toEqual(['CRITICAL memory.jit-foreign-site']);
  });

  it('a strictly W^X runtime flipping RW to RX is INFO; any W+X is CRITICAL and says why', () => {
    expect(judged(protect(5, 0x73), ctx(WASMTIME, fromFile('/usr/bin/wasmtime')))).toEqual(['INFO memory.jit-expected']);
    const [f] = rules.evaluate(wxMap, ctx(WASMTIME, fromFile('/usr/bin/wasmtime')));
    expect(f.level).toBe('CRITICAL');
    expect(f.description).toMatch(/^wasmtime is strictly W\^X/);
  });

  it('an unknown program gets no allowance', () => {
    expect(judged(protect(7, 0x70), ctx(null, fromFile('/usr/bin/x')))).toEqual(['CRITICAL memory.wx-mprotect']);
    expect(judged(protect(5, 0x73), ctx(null, fromFile('/usr/bin/x')))).toEqual(['HIGH memory.wx-violation']);
  });

  it('/proc RWX regions: JIT code space is INFO, file-backed or non-JIT CRITICAL, kernel-known skipped', () => {
    const region = (p: string): ProcRwxEvent => ({ kind: 'rwx-region', pid: 300, start: 0x7f0000600000, end: 0x7f0000640000, perms: 'rwxp', path: p });
    expect(judged(region(''), ctx(V8, fromAnon))).toEqual(['INFO memory.jit-expected']);
    expect(judged(region('[heap]'), ctx(V8, fromAnon))).toEqual(['INFO memory.jit-expected']);
    expect(judged(region('[stack]'), ctx(V8, fromAnon))).toEqual(['CRITICAL memory.rwx-region']);
    expect(judged(region('/usr/lib/libx.so'), ctx(V8, fromAnon))).toEqual(['CRITICAL memory.rwx-region']);
    expect(judged(region(''), ctx(WASMTIME, fromAnon))).toEqual(['CRITICAL memory.rwx-region']);
    expect(judged(region(''), ctx(null, fromAnon, true))).toEqual([]);
  });
});

describe('runtime identification', () => {
  it('names node with its version and JIT model, from the binary itself', () => {
    const r = identifyRuntime(process.execPath);
    expect(r).toMatchObject({ name: 'node', engine: 'V8', jit: 'rwx-mprotect', version: process.versions.node, modules: [process.execPath] });
    expect(describeRuntime(r)).toBe(`node ${process.versions.node} (V8, JIT: RWX code space via mprotect)`);
  });

  it("names deno with the version read from its binary's bytes", () => {
    const dir = path.join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc');
    const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const deno = path.join(dir, 'deno');
    const r = identifyRuntime(deno);
    expect(r).toMatchObject({ name: 'deno', engine: 'V8', jit: 'rwx-mprotect', version, modules: [deno] });
    expect(describeRuntime(r)).toBe(`deno ${version} (V8, JIT: RWX code space via mprotect)`);
  });

  it('an ordinary program is not a runtime', () => {
    expect(identifyRuntime(trigger())).toMatchObject({ name: 'unknown', jit: 'unknown' });
  });

  it('finds an embedded runtime library among the mappings, and names the program it is embedded in', () => {
    const maps = [{ start: 1, end: 2, perms: 'r-xp', offset: 0, inode: 1, path: '/opt/app/lib/libwasmtime.so' }];
    expect(identifyRuntime('/opt/app/bin/app', maps)).toMatchObject({ name: 'wasmtime', jit: 'wx-strict', modules: ['/opt/app/lib/libwasmtime.so'], embedder: 'app' });
    // a library mapped only as data is not loaded code
    expect(identifyRuntime('/opt/app/bin/app', [{ ...maps[0], perms: 'r--p' }])).toMatchObject({ name: 'unknown' });
  });

  it("recognises wasmtime's pip wheel library, with the version its bytes carry", () => {
    const { library } = wasmtimeVenv();
    const maps = [{ start: 0x7f0000000000, end: 0x7f0001000000, perms: 'r-xp', offset: 0x1000, inode: 1, path: library }];
    const r = identifyRuntime('/usr/bin/python3.11', maps);
    expect(r).toEqual({ name: 'wasmtime', engine: 'Cranelift', version: '49.0.0', jit: 'wx-strict', modules: [library], embedder: 'python3.11' });
    expect(describeRuntime(r)).toBe('wasmtime 49.0.0 (Cranelift, JIT: strictly W^X (write, then R+X)) embedded in python3.11');
  });

  it('the registry: unique names, each recognisable some way, libraries by their real names', () => {
    const names = RUNTIMES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const r of RUNTIMES) expect([r.name, r.executables.length + r.libraries.length + r.goModules.length > 0]).toEqual([r.name, true]);
    expect(
      ['_libwasmtime.so', 'libwasmtime.so', 'libwasmer.so', 'libiwasm.so', 'libvmlib.so', 'libwasmedge.so.0', 'libm3.so', 'libnode.so.115', 'libc.so.6', 'libwasmtime_x.a'].map(
        (f) => libraryEntry(f)?.name ?? null,
      ),
    ).toEqual(['wasmtime', 'wasmtime', 'wasmer', 'iwasm', 'iwasm', 'wasmedge', 'wasm3', 'node', null, null]);
  });

  it("the README's table of runtimes is the registry's", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { updated } = require('../scripts/runtime-table.js');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(updated(readme)); // if not: npm run build:ts && node scripts/runtime-table.js --write
  });

  it("reads a Go binary's build info: wazero with its version", () => {
    // a minimal ELF64 with a .go.buildinfo section in Go 1.18+'s inline format
    const varstr = (s: string) => {
      const b = Buffer.from(s);
      return Buffer.concat([Buffer.from([b.length]), b]);
    };
    const modinfo = 'path\texample.com/host\nmod\texample.com/host\t(devel)\ndep\tgithub.com/tetratelabs/wazero\tv1.7.3\n';
    const header = Buffer.alloc(32);
    header.write('\xff Go buildinf:', 0, 'latin1');
    header[14] = 8;
    header[15] = 2;
    const buildinfo = Buffer.concat([header, varstr('go1.22.5'), varstr(modinfo)]);
    const shstrtab = Buffer.from('\0.shstrtab\0.go.buildinfo\0');
    const dataAt = 64;
    const strAt = dataAt + buildinfo.length;
    const shAt = strAt + shstrtab.length;
    const eh = Buffer.alloc(64);
    eh.writeUInt32BE(0x7f454c46, 0);
    eh[4] = 2;
    eh[5] = 1;
    eh.writeBigUInt64LE(BigInt(shAt), 0x28);
    eh.writeUInt16LE(64, 0x3a);
    eh.writeUInt16LE(3, 0x3c);
    eh.writeUInt16LE(1, 0x3e);
    const sh = Buffer.alloc(3 * 64);
    sh.writeUInt32LE(1, 64); // .shstrtab
    sh.writeBigUInt64LE(BigInt(strAt), 64 + 0x18);
    sh.writeBigUInt64LE(BigInt(shstrtab.length), 64 + 0x20);
    sh.writeUInt32LE(11, 128); // .go.buildinfo
    sh.writeBigUInt64LE(BigInt(dataAt), 128 + 0x18);
    sh.writeBigUInt64LE(BigInt(buildinfo.length), 128 + 0x20);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-go-')), 'host');
    fs.writeFileSync(file, Buffer.concat([eh, buildinfo, shstrtab, sh]));
    expect(readGoBuildInfo(file)?.go).toBe('go1.22.5');
    expect(identifyRuntime(file)).toMatchObject({ name: 'wazero', version: 'v1.7.3', jit: 'wx-strict', modules: [file] });
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});

describe('call sites', () => {
  it('resolves a libc wrapper to its caller through the stack words', () => {
    const maps = new MapsCache();
    const own = maps.maps(process.pid);
    const libc = own.find((m) => /libc\.so/.test(m.path) && m.perms[2] === 'x')!;
    const exe = own.find((m) => m.path === process.execPath && m.perms[2] === 'x')!;
    expect(libc && exe).toBeTruthy();
    const site = maps.callSite(process.pid, libc.start + 16, [0, 12345, exe.start + 64]);
    expect(site).toEqual({ kind: 'file', path: process.execPath, address: exe.start + 64, offset: exe.offset + 64 });
    expect(maps.callSite(process.pid, exe.start + 8, [])).toMatchObject({ kind: 'file', path: process.execPath });
    expect(maps.callSite(process.pid, 0x10, [])).toMatchObject({ kind: 'unknown' });
  });
});

describe('the mappings cache follows the mmaps it is told of', () => {
  const strip = (m: { start: number; end: number; perms: string; path: string }) => ({ start: m.start, end: m.end, perms: m.perms, path: m.path });

  it('a mapping laid over part of a file mapping splits it as the kernel does, with no /proc read', async () => {
    // a child maps a file, then maps anonymous RWX memory over the middle of it
    const file = path.join(os.tmpdir(), `wasmshark-maps-${process.pid}`);
    fs.writeFileSync(file, Buffer.alloc(5 * 4096, 1));
    const script = `import mmap, ctypes, sys
f = open(${JSON.stringify(file)}, 'rb')
m = mmap.mmap(f.fileno(), 5 * 4096, prot=mmap.PROT_READ)
print('go', flush=True)
sys.stdin.readline()
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
start = int(sys.stdin.readline(), 16)
r = libc.mmap(start + 4096, 2 * 4096, 7, 0x32, -1, 0)  # MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
print(hex(r), flush=True)
sys.stdin.readline()
`;
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = () => new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d).trim())));
    try {
      expect(await line()).toBe('go');
      const cache = new MapsCache();
      const before = cache.maps(child.pid!);
      const mapped = before.find((m) => m.path === file)!;
      expect(mapped).toMatchObject({ end: mapped.start + 5 * 4096, perms: 'r--s' });
      child.stdin!.write(`\n${mapped.start.toString(16)}\n`);
      const at = parseInt(await line(), 16);
      expect(at).toBe(mapped.start + 4096);
      cache.mapped(child.pid!, { start: at, length: 2 * 4096 - 100, prot: 7, flags: 0x32, offset: 0, fd: -1, file: null });
      const told = cache.maps(child.pid!).map(strip);
      const kernel = new MapsCache().maps(child.pid!).map(strip);
      expect(told.filter((m) => m.end > mapped.start && m.start < mapped.end)).toEqual([
        { start: mapped.start, end: mapped.start + 4096, perms: 'r--s', path: file },
        { start: at, end: at + 2 * 4096, perms: 'rwxp', path: '' },
        { start: at + 2 * 4096, end: mapped.end, perms: 'r--s', path: file },
      ]);
      expect(told.filter((m) => m.end > mapped.start && m.start < mapped.end)).toEqual(kernel.filter((m) => m.end > mapped.start && m.start < mapped.end));
      expect(cache.callSite(child.pid!, at + 8, [])).toMatchObject({ kind: 'anonymous' });
      // a file mapping it could not name drops the cache: the next lookup reads the kernel's
      cache.mapped(child.pid!, { start: at, length: 4096, prot: 5, flags: 0x2, offset: 0, fd: 3, file: null });
      expect(cache.maps(child.pid!).map(strip)).toEqual(new MapsCache().maps(child.pid!).map(strip));
    } finally {
      child.kill();
      fs.rmSync(file, { force: true });
    }
  });
});

describe('libffi closures', () => {
  const libffi = ['/usr/lib/x86_64-linux-gnu/libffi.so.8', '/usr/lib/x86_64-linux-gnu/libffi.so.7'].find((f) => fs.existsSync(f));
  const real = libffi ? fs.realpathSync(libffi) : '';

  /** Every return address in libffi's code right after a direct call of the named import. */
  function callsOf(name: string): number[] {
    const size = fs.statSync(real).size;
    const out: number[] = [];
    for (let off = 6; off < Math.min(size, 1 << 20); off++) if (directCallee(real, off) === name) out.push(off);
    return out;
  }

  const ffiMap = (over: Partial<MmapEvent> = {}): MmapEvent => ({ ...wxMap, comm: 'python3', length: 4096, flags: 0x22, ...over });

  it('only the closure allocator calls mmap itself: its page is INFO, the same W+X mapping otherwise CRITICAL', () => {
    expect(libffi).toBeDefined(); // Debian's python3 depends on it
    const sites = callsOf('mmap').concat(callsOf('mmap64'));
    expect(sites.length).toBeGreaterThan(0);
    const allocator: CallSite = { kind: 'file', path: real, address: 0x7f0000001000, offset: sites[0] };
    expect(judged(ffiMap(), ctx(null, allocator))).toEqual(['INFO memory.ffi-closure']);
    expect(judged(ffiMap(), ctx(WASMTIME, allocator))).toEqual(['INFO memory.ffi-closure']);
    // not the allocator's shape: too large, at a fixed address, or a file
    expect(judged(ffiMap({ length: 1 << 20 }), ctx(null, allocator))).toEqual(['CRITICAL memory.wx-mmap']);
    expect(judged(ffiMap({ flags: 0x32 }), ctx(null, allocator))).toEqual(['CRITICAL memory.wx-mmap']);
    expect(judged(ffiMap({ fd: 3, flags: 0x02 }), ctx(null, allocator))).toEqual(['CRITICAL memory.wx-mmap']);
    // anywhere else in libffi (ffi_call's indirect call of the function ctypes hands it), or in another library
    expect(judged(ffiMap(), ctx(null, { ...allocator, offset: sites[0] + 3 }))).toEqual(['CRITICAL memory.wx-mmap']);
    expect(judged(ffiMap(), ctx(null, { ...allocator, path: '/usr/lib/libevil.so' }))).toEqual(['CRITICAL memory.wx-mmap']);
  });

  it("tells a live Python's closure page from an RWX page it maps through ctypes, from /proc and its memory", async () => {
    const script = [
      'import ctypes, sys',
      'cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)',
      'print(hex(ctypes.cast(cb, ctypes.c_void_p).value), flush=True)',
      'sys.stdin.readline()',
      'libc = ctypes.CDLL(None)',
      'libc.mmap.restype = ctypes.c_void_p',
      'libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]',
      'addr = libc.mmap(None, 4096, 7, 0x22, -1, 0)',
      'ctypes.memmove(addr, b"\\x90" * 64 + b"\\xc3", 65)',
      'print(hex(addr), flush=True)',
      'sys.stdin.readline()',
    ].join('\n');
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = () => new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(parseInt(String(d), 16))));
    const regionAt = (addr: number) => {
      const maps = new MapsCache().maps(child.pid!);
      return { maps, region: maps.find((m) => addr >= m.start && addr < m.end)! };
    };
    try {
      const closure = await line();
      const before = regionAt(closure);
      expect(before.region).toMatchObject({ perms: 'rwxp', path: '' });
      expect(isFfiClosurePage(child.pid!, before.region, before.maps)).toBe(true);
      // the same page, were libffi's code not mapped, is not excused
      expect(isFfiClosurePage(child.pid!, before.region, before.maps.filter((m) => !/libffi/.test(m.path)))).toBe(false);

      child.stdin!.write('\n');
      // placed next to the closure page, the kernel merges the two into one region: still not excused
      const after = regionAt(await line());
      expect(after.region).toMatchObject({ perms: 'rwxp', path: '' });
      expect(isFfiClosurePage(child.pid!, after.region, after.maps)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reads both trampoline layouts', () => {
    const cet = Buffer.alloc(64);
    Buffer.from('f30f1efa4c8d15f5ffffffff25070000000f1f8000000000', 'hex').copy(cet, 16);
    cet.writeBigUInt64LE(0x7f0000123456n, 40);
    expect(trampolineTargets(cet)).toEqual([0x7f0000123456]);
    const old = Buffer.alloc(64);
    Buffer.from([0x49, 0xbb]).copy(old, 0);
    old.writeBigUInt64LE(0x7f0000abcdefn, 2);
    Buffer.from([0x49, 0xba]).copy(old, 10);
    Buffer.from([0x49, 0xff, 0xe3]).copy(old, 20);
    expect(trampolineTargets(old)).toEqual([0x7f0000abcdef]);
    expect(trampolineTargets(Buffer.alloc(4096, 0x90))).toEqual([]);
  });
});
