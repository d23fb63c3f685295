/**
 * Rules, deduplication, scoring, the report file and console escaping,
 * without the kernel: events are built by hand.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AlertBook, type Alert, type Finding } from '../src/alerts';
import fc from 'fast-check';
import { ConsoleRenderer, escapeText } from '../src/console';
import type { AnonSyscallEvent, ConnectEvent, ExecEvent, FileInfo, KernelEvent, MmapEvent, MprotectEvent, OpenEvent, PathEvent, RuntimeEvent, SyscallEvent, TaskInfo } from '../src/events';
import { Case } from '../src/case';
import { checkOutputPath, reportAlert, writeReport, type Report } from '../src/report';
import { DEFAULT_RULES, loadRules, RuleSet, type RuleContext } from '../src/rules';
import { globToRegExp } from '../src/rules/config';
import { scoreBreakdown, threatScore, verdict } from '../src/score';
import { expectScoreExplained } from './helpers/score';

const task: TaskInfo = { pid: 100, tid: 100, ppid: 1, uid: 0, comm: 'wasmtime', timeNs: 1n, ip: 0x401000 };
const ctx: RuleContext = {
  procChildren: false,
  isLaunchExec: () => false,
  memfdName: () => undefined,
  runtime: () => null,
  callSite: () => ({ kind: 'unknown', path: '', address: 0 }),
  kernelSawRegion: () => false,
  mappedElf: () => null,
  commandLine: () => [],
};
const rules = new RuleSet(DEFAULT_RULES);

const mmap = (over: Partial<MmapEvent> = {}): MmapEvent => ({
  ...task, kind: 'mmap', addr: 0, length: 4096, prot: 7, flags: 0x22, fd: -1, offset: 0, result: 0x7f0000000000, ok: true, stack: [], file: null, image: false, ...over,
});
const mprotect = (over: Partial<MprotectEvent>): MprotectEvent => ({
  ...task, kind: 'mprotect', syscall: 'mprotect', addr: 0x7f0000000000, length: 4096, prot: 5, pkey: -1, oldFlags: 3, result: 0, ok: true, stack: [], file: null, ...over,
});
const exec = (over: Partial<ExecEvent>): ExecEvent => ({
  ...task, pid: 101, ppid: 100, kind: 'exec', syscall: 'execve', filename: '/bin/sh', argv: ['sh', '-c', 'id'], argc: 3,
  image: '/bin/sh', dfd: -100, atFlags: 0, entrySeen: true, ok: true, result: 0, ...over,
});
const connect = (over: Partial<ConnectEvent>): ConnectEvent => ({
  ...task, kind: 'connect', fd: 5, family: 'inet', familyNumber: 2, socketType: 'stream', address: '203.0.113.7', port: 443,
  path: '', result: 0, ok: true, ...over,
});

const titles = (e: KernelEvent) => rules.evaluate(e, ctx).map((f) => `${f.level} ${f.category} ${f.title}`);

describe('memory rules', () => {
  it('W+X mmap is CRITICAL and stands for a W+X region; R+X file mappings are not alerts', () => {
    const [f] = rules.evaluate(mmap(), ctx);
    expect(f).toMatchObject({ level: 'CRITICAL', category: 'MEMORY', title: 'W+X mmap() via eBPF tracepoint' });
    expect(f.description).toBe('PROT_WRITE|PROT_EXEC mapping — fileless shellcode staging');
    expect(f.evidence).toMatch(/^prot=7 addr=0x7f0000000000 len=4096 flags=MAP_PRIVATE\|MAP_ANONYMOUS anonymous pid=100/);
    expect(f.wxRegion).toEqual({ start: 0x7f0000000000, from: 'kernel' });
    expect(titles(mmap({ prot: 5, fd: 3, flags: 0x2 }))).toEqual([]);
  });

  it('a failed W+X mmap is still an alert but no region', () => {
    const [f] = rules.evaluate(mmap({ ok: false, result: -13 }), ctx);
    expect(f.evidence).toMatch(/failed=EACCES/);
    expect(f.wxRegion).toBeUndefined();
  });

  it('grades mprotect by what it changed', () => {
    expect(titles(mprotect({ prot: 5, oldFlags: 3 }))).toEqual(['HIGH MEMORY W^X violation: mprotect() made written memory executable']);
    expect(titles(mprotect({ prot: 7, oldFlags: 5 }))).toEqual(['CRITICAL MEMORY W+X mprotect() via eBPF tracepoint']);
    expect(titles(mprotect({ prot: 5, oldFlags: 1 }))).toEqual(['MEDIUM MEMORY mprotect() made memory executable']);
    expect(titles(mprotect({ prot: 5, oldFlags: null }))).toEqual(['MEDIUM MEMORY mprotect() made memory executable']);
    expect(titles(mprotect({ prot: 3 }))).toEqual([]);
    expect(titles(mprotect({ ok: false, result: -13 }))).toEqual([]);
  });
});

describe('process rules', () => {
  it('a child exec is HIGH PROCESS naming program and arguments', () => {
    const [f] = rules.evaluate(exec({ filename: '/usr/bin/id', image: '/usr/bin/id', argv: ['id', '-u'], argc: 2 }), ctx);
    expect(f).toMatchObject({ level: 'HIGH', category: 'PROCESS', title: 'Child process spawned: id' });
    expect(f.evidence).toBe('argv=id -u image=/usr/bin/id pid=101 ppid=100');
  });

  it('a shell is CRITICAL', () => {
    const [f] = rules.evaluate(exec({}), ctx);
    expect(f).toMatchObject({ level: 'CRITICAL', category: 'PROCESS', rule: 'process.shell', title: 'Shell spawned: sh' });
    expect(f.evidence).toBe("argv=sh -c id image=/bin/sh pid=101 ppid=100");
  });

  it('the launch exec and failed execs are not alerts', () => {
    expect(rules.evaluate(exec({}), { ...ctx, isLaunchExec: () => true })).toEqual([]);
    expect(rules.evaluate(exec({ ok: false, result: -2 }), ctx)).toEqual([]);
  });

  it('exec of an fd (fexecve of a memfd) is CRITICAL fileless execution', () => {
    const e = exec({ syscall: 'execveat', filename: '', atFlags: 0x1000, dfd: 3, image: '/dev/fd/3', argv: ['payload'] });
    const [f] = rules.evaluate(e, { ...ctx, memfdName: (pid, fd) => (pid === 101 && fd === 3 ? 'x' : undefined) });
    expect(f).toMatchObject({ level: 'CRITICAL', category: 'PROCESS', title: 'Fileless execution from an in-memory file (memfd)' });
    expect(f.evidence).toMatch(/fd=3 memfd=x$/);
  });
});

describe('network rules', () => {
  it('an established outbound TCP connection is MEDIUM; a known port adds a HIGH naming it', () => {
    expect(titles(connect({}))).toEqual(['MEDIUM NETWORK Outbound TCP connection established']);
    expect(titles(connect({ address: '127.0.0.1', port: 9001 }))).toEqual([
      'HIGH NETWORK Connection to port 9001 (Tor ORPort)',
      'MEDIUM NETWORK Outbound TCP connection established',
    ]);
    expect(titles(connect({ port: 3333, ok: false, result: -111 }))).toEqual(['HIGH NETWORK Connection to port 3333 (Stratum mining pool)']);
    expect(titles(connect({ port: 443, ok: false, result: -115 }))).toEqual(['MEDIUM NETWORK Outbound TCP connection established']);
    expect(titles(connect({ socketType: 'dgram', port: 53 }))).toEqual(['MEDIUM NETWORK Outbound UDP flow opened']);
  });

  it('a Docker socket connect is HIGH; other unix sockets are not alerts', () => {
    expect(titles(connect({ family: 'unix', address: '', port: 0, path: '/var/run/docker.sock' }))).toEqual([
      'HIGH NETWORK Connection to the Docker engine API socket',
    ]);
    expect(titles(connect({ family: 'unix', address: '', port: 0, path: '/run/dbus/system_bus_socket' }))).toEqual([]);
  });
});

describe('notable syscalls', () => {
  const call = (name: string, nr: number, args = [0, 0, 0], compat = false) =>
    rules.evaluate({ ...task, kind: 'syscall', nr, name, args, compat, remoteAddr: 0 }, ctx).map((f) => `${f.level} ${f.rule} ${f.title}`);
  it('grades what a runtime has no use for', () => {
    expect(call('io_uring_setup', 425, [8, 0, 0])).toEqual(['MEDIUM syscall.io_uring_setup io_uring instance created']);
    expect(call('process_vm_writev', 311, [4242, 0, 1])).toEqual([
      "CRITICAL syscall.process_vm_writev Writes another process's memory (process_vm_writev): pid 4242",
    ]);
    expect(call('finit_module', 313)).toEqual(['CRITICAL syscall.finit_module Kernel module load attempted']);
    expect(call('ptrace', 101)).toEqual(['HIGH syscall.ptrace ptrace() called']);
    expect(call('getpid', 39)).toEqual([]);
    expect(call('i386:192', 192, [0, 0, 0], true)).toEqual(['HIGH syscall.compat 32-bit syscall ABI used (int 0x80)']);
  });
});

describe('credential and file rules', () => {
  it('names sensitive variables only, and marks SSH agent exposure', () => {
    const found = rules.evaluate({ kind: 'env', pid: 100, names: ['PATH', 'HOME', 'SSH_AUTH_SOCK', 'my_api_key', 'STRIPE_SECRET', 'CI_JOB_TOKEN'] }, ctx);
    expect(found.map((f) => f.title)).toEqual([
      'Sensitive environment variable: SSH_AUTH_SOCK',
      'Sensitive environment variable: my_api_key',
      'Sensitive environment variable: STRIPE_SECRET',
      'Sensitive environment variable: CI_JOB_TOKEN',
    ]);
    expect(found[0]).toMatchObject({ level: 'HIGH', category: 'CREDENTIALS', evidence: 'key=SSH_AUTH_SOCK (value redacted)', ssh: true });
  });

  it('sensitive files are HIGH FILE; dropped files MEDIUM; stdio redirections are not drops', () => {
    const file = (p: string, fd = 5) => rules.evaluate({ kind: 'file', pid: 100, fd, path: p }, ctx).map((f) => `${f.level} ${f.rule}`);
    expect(file('/etc/shadow')).toEqual(['HIGH file.sensitive']);
    expect(file('/home/ann/.ssh/id_ed25519')).toEqual(['HIGH file.sensitive']);
    expect(file('/root/.aws/credentials')).toEqual(['HIGH file.sensitive']);
    expect(file('/dev/shm/x (deleted)')).toEqual(['MEDIUM file.drop']);
    expect(file('/tmp/out.log', 1)).toEqual([]);
    expect(file('/usr/lib/libc.so.6')).toEqual([]);
  });

  it('globs: ** spans directories, * does not', () => {
    expect(globToRegExp('**/.ssh/id_*').test('/root/.ssh/id_rsa')).toBe(true);
    expect(globToRegExp('**/.ssh/id_*').test('/root/x.ssh/id_rsa')).toBe(false);
    expect(globToRegExp('/tmp/*').test('/tmp/a/b')).toBe(false);
    expect(globToRegExp('/tmp/**').test('/tmp/a/b')).toBe(true);
  });
});

const file = (path: string, over: Partial<FileInfo> = {}): FileInfo => ({
  path, ino: 12, dev: 0x800001, magic: 0xef53, nlink: 1, mode: 0o100644, memfd: false, detached: false, truncated: false, ...over,
});
const TMPFS = 0x01021994;
const PROCFS = 0x9fa0;
const memfdFile = file('/memfd:payload', { magic: TMPFS, nlink: 0, memfd: true, detached: true, mode: 0o100777 });
const open = (over: Partial<OpenEvent>): OpenEvent => ({
  ...task, kind: 'open', syscall: 'openat', fd: 3, flags: 0, write: false, procMem: false, file: file('/etc/hostname'), ...over,
});

describe('code from memory files', () => {
  const rx = (f: FileInfo, over: Partial<MmapEvent> = {}) => mmap({ prot: 5, flags: 0x812, fd: 3, offset: 0x1000, file: f, ...over });
  const judged = (e: KernelEvent, elf: boolean | null) =>
    rules.evaluate(e, { ...ctx, mappedElf: () => elf }).map((f) => `${f.level} ${f.rule} ${f.title}`);

  it('an ELF library mapped from a memfd, a deleted file or /dev/shm is CRITICAL, naming the file', () => {
    expect(judged(rx(memfdFile), true)).toEqual(['CRITICAL memory.fileless-library Library loaded from a memfd: memfd:payload']);
    expect(judged(rx(file('/tmp/#2146785', { nlink: 0 })), true)).toEqual([
      'CRITICAL memory.fileless-library Library loaded from a deleted file: /tmp/#2146785',
    ]);
    expect(judged(rx(file('/dev/shm/lib.so', { magic: TMPFS })), true)).toEqual([
      'CRITICAL memory.fileless-library Library loaded from /dev/shm: /dev/shm/lib.so',
    ]);
    const [f] = rules.evaluate(rx(memfdFile), { ...ctx, mappedElf: () => true });
    expect(f.evidence).toBe('file=memfd:payload origin=memfd links=0 elf=yes mmap prot=PROT_READ|PROT_EXEC addr=0x7f0000000000 len=4096 pid=100 tid=100 comm=wasmtime');
  });

  it('a library unloaded before its file could be read: the layout the kernel saw decides', () => {
    const [f] = rules.evaluate(rx(memfdFile, { image: true }), { ...ctx, mappedElf: () => null });
    expect(f).toMatchObject({ rule: 'memory.fileless-library', level: 'CRITICAL', evidence: expect.stringContaining('elf=inferred') });
    // what was read wins over the layout
    expect(judged(rx(memfdFile, { image: true }), false)).toEqual(['HIGH memory.fileless-code Executable code mapped from a memfd: memfd:payload']);
  });

  it('other code from such files is HIGH, whether it is not ELF or could not be read', () => {
    expect(judged(rx(memfdFile), false)).toEqual(['HIGH memory.fileless-code Executable code mapped from a memfd: memfd:payload']);
    const [f] = rules.evaluate(rx(memfdFile), { ...ctx, mappedElf: () => null });
    expect(f).toMatchObject({ level: 'HIGH', evidence: expect.stringContaining('elf=unknown') });
    const toExec = mprotect({ prot: 5, oldFlags: 1, file: file('/dev/shm/blob', { magic: TMPFS }) });
    expect(judged(toExec, false)).toEqual([
      'MEDIUM memory.exec-grant mprotect() made memory executable',
      'HIGH memory.fileless-code Executable code mapped from /dev/shm: /dev/shm/blob',
    ]);
  });

  it('libraries on disk, /tmp on tmpfs, shared anonymous memory and failed calls are not alerts', () => {
    expect(judged(rx(file('/usr/lib/x86_64-linux-gnu/libz.so.1')), true)).toEqual([]);
    expect(judged(rx(file('/tmp/addon.node', { magic: TMPFS })), true)).toEqual([]);
    // MAP_SHARED|MAP_ANONYMOUS memory is a shmem file the kernel names dev/zero
    expect(judged(rx(file('/dev/zero', { magic: TMPFS, nlink: 0, detached: true }), { flags: 0x21, fd: -1 }), false)).toEqual([]);
    const sysv = mprotect({ prot: 5, oldFlags: 1, file: file('/SYSV00000000', { magic: TMPFS, nlink: 0, detached: true }) });
    expect(judged(sysv, false)).toEqual(['MEDIUM memory.exec-grant mprotect() made memory executable']);
    expect(judged(rx(memfdFile, { ok: false, result: -1 }), true)).toEqual([]);
    expect(judged(rx(memfdFile, { prot: 3 }), true)).toEqual([]);
  });

  it('a syscall from code in a memfd is CRITICAL, naming the memfd', () => {
    const e: AnonSyscallEvent = { ...task, kind: 'anon-syscall', nr: 10, vmaStart: 0x7f0000000000, vmaEnd: 0x7f0000001000, vmFlags: 0xfd, memfd: memfdFile };
    const [f] = rules.evaluate(e, ctx);
    expect(f).toMatchObject({ rule: 'memory.fileless-syscall', level: 'CRITICAL', title: 'Syscall from code in a memfd: memfd:payload' });
    expect(f.evidence).toMatch(/^file=memfd:payload syscall=mprotect\(10\) ip=0x401000 region=0x7f0000000000-0x7f0000001000 pid=100/);
    expect(rules.evaluate({ ...e, memfd: null }, ctx).map((x) => x.rule)).toEqual(['memory.anon-syscall']);
  });
});

describe('writes into process memory', () => {
  const others = { ...ctx, commandLine: (pid: number) => (pid === 4242 ? ['sleep', '5'] : []) };
  const mem = (path: string, write = true) => open({ file: file(path, { magic: PROCFS, mode: 0o100600 }), write, procMem: true, flags: write ? 2 : 0 });

  it('/proc/PID/mem opened for writing is CRITICAL: its own, or another process named with its command line', () => {
    const [self] = rules.evaluate(mem('/proc/100/mem'), others);
    expect(self).toMatchObject({ rule: 'memory.proc-mem-write', level: 'CRITICAL', title: 'Own memory opened for writing through /proc/self/mem' });
    expect(self.evidence).toBe('target=100 (itself) path=/proc/100/mem fd=3 read-write syscall=openat pid=100 tid=100 comm=wasmtime');
    const [other] = rules.evaluate(mem('/proc/4242/mem'), others);
    expect(other).toMatchObject({ level: 'CRITICAL', title: 'Memory of another process opened for writing: sleep (pid 4242)' });
    expect(other.evidence).toMatch(/^target=4242 cmdline=sleep 5 path=\/proc\/4242\/mem /);
    expect(rules.evaluate(mem('/proc/4242/task/4243/mem'), others)[0].evidence).toMatch(/^target=4242 cmdline=sleep 5 /);
    expect(rules.evaluate(mem('/proc/4343/mem'), others)[0].evidence).toMatch(/^target=4343 cmdline=unknown /);
  });

  it("reading another process's memory is HIGH; reading one's own is not an alert", () => {
    expect(rules.evaluate(mem('/proc/4242/mem', false), others).map((f) => `${f.level} ${f.rule}`)).toEqual(['HIGH memory.proc-mem-read']);
    expect(rules.evaluate(mem('/proc/100/mem', false), others)).toEqual([]);
  });

  it('a file named mem that the kernel did not find in procfs is not /proc/PID/mem', () => {
    expect(rules.evaluate(open({ file: file('/srv/123/mem'), write: true }), others).map((f) => f.rule)).toEqual([]);
  });

  it('ptrace pokes are CRITICAL with the target, its address and command line; attaches HIGH; other requests as before', () => {
    const ptrace = (args: number[]) => rules.evaluate({ ...task, kind: 'syscall', nr: 101, name: 'ptrace', args, compat: false, remoteAddr: 0 }, others);
    const [poke] = ptrace([4, 4242, 0x7f00deadb000]);
    expect(poke).toMatchObject({ rule: 'process.ptrace-poke', level: 'CRITICAL', title: 'Writes into another process with ptrace(PTRACE_POKETEXT): sleep (pid 4242)' });
    expect(poke.evidence).toBe('request=PTRACE_POKETEXT target=4242 cmdline=sleep 5 addr=0x7f00deadb000 pid=100 tid=100 comm=wasmtime');
    expect(ptrace([5, 4242, 0x1000])[0].title).toMatch(/PTRACE_POKEDATA/);
    expect(ptrace([0x4206, 4242, 0]).map((f) => `${f.level} ${f.rule} ${f.title}`)).toEqual([
      'HIGH process.ptrace-attach Attaches to another process with ptrace: sleep (pid 4242)',
    ]);
    expect(ptrace([0, 0, 0]).map((f) => `${f.level} ${f.rule}`)).toEqual(['HIGH syscall.ptrace']);
  });

  it('process_vm_writev names the target and the remote address', () => {
    const [f] = rules.evaluate({ ...task, kind: 'syscall', nr: 311, name: 'process_vm_writev', args: [4242, 0, 1], compat: false, remoteAddr: 0x55550000 }, others);
    expect(f).toMatchObject({ rule: 'syscall.process_vm_writev', level: 'CRITICAL' });
    expect(f.evidence).toBe('syscall=process_vm_writev(311) target=4242 cmdline=sleep 5 addr=0x55550000 pid=100 tid=100 comm=wasmtime');
  });
});

describe('files the kernel saw opened', () => {
  const judged = (e: OpenEvent) => rules.evaluate(e, ctx).map((f) => `${f.level} ${f.rule} ${f.title}`);

  it('a sensitive file is HIGH by the path the kernel resolved, read or written', () => {
    expect(judged(open({ file: file('/root/.aws/credentials') }))).toEqual(['HIGH file.sensitive Sensitive file opened: /root/.aws/credentials']);
    const [ssh] = rules.evaluate(open({ file: file('/home/ann/.ssh/id_ed25519'), fd: 7 }), ctx);
    expect(ssh).toMatchObject({ ssh: true, key: '/home/ann/.ssh/id_ed25519', evidence: 'path=/home/ann/.ssh/id_ed25519 fd=7 read syscall=openat pid=100 comm=wasmtime' });
    // written, /etc/shadow is an account file changed: the persistence rule replaces the read one
    expect(judged(open({ file: file('/etc/shadow'), write: true }))).toEqual(['CRITICAL persistence.accounts Account or privilege file written: /etc/shadow']);
  });

  it('a path too long for the record keeps its tail: the anywhere-globs still match it', () => {
    const tail = file('deep/er/.ssh/id_rsa', { truncated: true });
    expect(judged(open({ file: tail }))).toEqual(['HIGH file.sensitive Sensitive file opened: …/deep/er/.ssh/id_rsa']);
  });

  it('a drop location counts when written, not when read', () => {
    expect(judged(open({ file: file('/tmp/x.so'), write: true }))).toEqual(['MEDIUM file.drop File written in a world-writable location: /tmp/x.so']);
    expect(judged(open({ file: file('/tmp/worker.capnp') }))).toEqual([]);
    expect(judged(open({ file: memfdFile, write: true }))).toEqual([]);
  });

  it("a runtime's own configuration read by the runtime is expected; written, or read by another program, it is not", () => {
    const deno = { name: 'deno', engine: 'V8', version: '2.9.6', jit: 'rwx-mprotect' as const, modules: ['/usr/bin/deno'] };
    const npmrc = open({ file: file('/root/.npmrc') });
    const as = (runtime: typeof deno | null, e: OpenEvent) => rules.evaluate(e, { ...ctx, runtime: () => runtime }).map((f) => `${f.level} ${f.rule} ${f.title}`);
    expect(as(deno, npmrc)).toEqual(['INFO file.runtime-config Expected: deno reads /root/.npmrc']);
    expect(as(deno, { ...npmrc, write: true })).toEqual(['HIGH file.sensitive Sensitive file opened: /root/.npmrc']);
    expect(as(deno, open({ file: file('/root/.aws/credentials') }))).toEqual(['HIGH file.sensitive Sensitive file opened: /root/.aws/credentials']);
    expect(as({ ...deno, name: 'node' }, npmrc)).toEqual(['HIGH file.sensitive Sensitive file opened: /root/.npmrc']);
    expect(as(null, npmrc)).toEqual(['HIGH file.sensitive Sensitive file opened: /root/.npmrc']);
  });

  it('the same path from an open and from the fd poll is one alert', () => {
    const book = new AlertBook();
    for (const f of rules.evaluate(open({ file: file('/etc/shadow') }), ctx)) book.add(f);
    for (const f of rules.evaluate({ kind: 'file', pid: 100, fd: 3, path: '/etc/shadow' }, ctx)) book.add(f);
    expect(book.all().map((a) => [a.rule, a.count])).toEqual([['file.sensitive', 2]]);
  });
});

describe('alert book', () => {
  it('one alert per rule and key, counted, with first and last seen', () => {
    const book = new AlertBook();
    const f: Finding = rules.evaluate(mmap(), ctx)[0];
    expect(book.add(f, 1000)).not.toBeNull();
    for (let i = 0; i < 199_999; i++) book.add({ ...f }, 2000);
    expect(book.size).toBe(1);
    expect(book.all()[0]).toMatchObject({ count: 200_000, firstSeen: 1000, lastSeen: 2000 });
  });
});

describe('monitor.blinded', () => {
  const drops = (mmap: number, stash = 0) => ({
    byKind: { mmap, mprotect: 0, exec: 2, connect: 0, memfd: 0, fork: 0, exit: 0, 'anon-syscall': 0, syscall: 0, open: 0, path: 0 },
    stash,
    userspace: 0,
    total: mmap + 2 + stash,
  });

  it('nothing while nothing is lost; then one HIGH MONITOR alert naming the kinds lost and when', () => {
    expect(rules.blinded({ ...drops(0), total: 0, byKind: { ...drops(0).byKind, exec: 0 } }, 100, 0, 0)).toEqual([]);
    const [f] = rules.blinded(drops(10, 1), 100, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 0, 0, 5));
    expect(f).toMatchObject({ rule: 'monitor.blinded', level: 'HIGH', category: 'MONITOR', pid: 100, title: 'Monitor blinded: 13 events dropped' });
    expect(f.evidence).toBe('dropped=13 mmap=10 exec=2 syscall-args=1 first=2026-01-01T00:00:00.000Z last=2026-01-01T00:00:05.000Z');
  });

  it('the alert book keeps one alert and restates it with the count measured so far', () => {
    const book = new AlertBook();
    expect(book.set(rules.blinded(drops(10), 100, 1000, 1000)[0], 12, 1000)).not.toBeNull();
    expect(book.set(rules.blinded(drops(500), 100, 1000, 3000)[0], 502, 3000)).toBeNull();
    expect(book.size).toBe(1);
    expect(book.all()[0]).toMatchObject({ count: 502, firstSeen: 1000, lastSeen: 3000, title: 'Monitor blinded: 502 events dropped' });
    expect(book.all()[0].evidence).toMatch(/^dropped=502 mmap=500 exec=2 /);
  });

  it('its level can be set in the rules file like any rule', () => {
    const custom = new RuleSet({ ...DEFAULT_RULES, levels: { 'monitor.blinded': 'CRITICAL' } });
    expect(custom.blinded(drops(1), 1, 0, 0)[0].level).toBe('CRITICAL');
  });
});

describe('score and verdict', () => {
  const alert = (level: Alert['level'], extra: Partial<Alert> = {}): Alert =>
    ({ rule: 'r', key: String(Math.random()), level, category: 'MEMORY', title: '', description: '', evidence: '', pid: 1, count: 1, firstSeen: 0, lastSeen: 0, ...extra });
  const sum = (alerts: Alert[], wxRegions = 0) => scoreBreakdown({ alerts, wxRegions }).sum;

  it("sums the seed's weights: per level, 40 per W+X region, 20 once for SSH", () => {
    expect(sum([])).toBe(0);
    expect(sum([alert('MEDIUM')])).toBe(5);
    expect(sum([alert('HIGH'), alert('HIGH')])).toBe(30);
    expect(sum([alert('CRITICAL')], 1)).toBe(70);
    expect(sum([alert('CRITICAL')], 2)).toBe(110);
    expect(sum([alert('HIGH', { ssh: true }), alert('HIGH', { ssh: true })])).toBe(50);
    expect(sum([alert('LOW'), alert('INFO')])).toBe(0);
    expect(sum([alert('LOW', { ssh: true })])).toBe(0);
  });

  it('one decisive act is enough: the worst behaviour alert sets a floor, CRITICAL 70, HIGH 40', () => {
    const fileless = alert('CRITICAL', { rule: 'process.fileless', key: 'k' });
    expect(scoreBreakdown({ alerts: [fileless, alert('MEDIUM')], wxRegions: 0 })).toMatchObject({
      sum: 35,
      floor: { points: 70, rule: 'process.fileless', key: 'k', level: 'CRITICAL' },
      score: 70,
    });
    expect(threatScore({ alerts: [alert('HIGH')], wxRegions: 0 })).toBe(40);
    expect(threatScore({ alerts: [alert('HIGH'), alert('HIGH'), alert('HIGH')], wxRegions: 0 })).toBe(45); // the sum, when higher
    expect(threatScore({ alerts: [alert('MEDIUM'), alert('MEDIUM')], wxRegions: 0 })).toBe(10); // MEDIUM sets none
    expect(threatScore({ alerts: [alert('CRITICAL')], wxRegions: 3 })).toBe(100); // capped
    expect(scoreBreakdown({ alerts: [alert('HIGH', { rule: 'a' }), alert('CRITICAL', { rule: 'b' })], wxRegions: 0 }).floor?.rule).toBe('b');
  });

  it('exposure adds its points and sets no floor: a developer shell stays SUSPICIOUS 50', () => {
    const found = rules.evaluate({ kind: 'env', pid: 100, names: ['HOME', 'SSH_AUTH_SOCK', 'AWS_SECRET_ACCESS_KEY'] }, ctx);
    expect(found.map((f) => f.exposure)).toEqual([true, true]);
    const book = new AlertBook();
    for (const f of found) book.add(f);
    const b = scoreBreakdown({ alerts: book.all(), wxRegions: 0 });
    expect(b).toMatchObject({ sum: 50, floor: null, score: 50, ssh: { points: 20, rule: 'credentials.env', key: 'SSH_AUTH_SOCK' } });
    expect(verdict(b.score)).toBe('SUSPICIOUS');
    const token = rules.evaluate({ kind: 'env', pid: 100, names: ['GITHUB_TOKEN'] }, ctx);
    expect(threatScore({ alerts: token.map((f) => ({ ...f, count: 1, firstSeen: 0, lastSeen: 0 })), wxRegions: 0 })).toBe(15);
  });

  it('every rule that does not say exposure is behaviour, whatever its category', () => {
    // a category the scorer has never heard of still sets the floor
    const newcomer = alert('CRITICAL', { category: 'MONITOR' as Alert['category'], rule: 'monitor.example' });
    expect(scoreBreakdown({ alerts: [newcomer], wxRegions: 0 }).floor).toMatchObject({ points: 70, rule: 'monitor.example' });
    const events: RuntimeEvent[] = [
      mmap(),
      mprotect({ prot: 5, oldFlags: 3 }),
      exec({}),
      connect({ address: '127.0.0.1', port: 9001 }),
      { kind: 'file', pid: 100, fd: 5, path: '/etc/shadow' },
      { ...task, kind: 'syscall', nr: 101, name: 'ptrace', args: [0, 0, 0], compat: false, remoteAddr: 0 },
      { ...task, kind: 'syscall', nr: 101, name: 'ptrace', args: [4, 4242, 0x1000], compat: false, remoteAddr: 0 },
      mmap({ prot: 5, flags: 0x812, fd: 3, file: memfdFile }),
      open({ file: file('/etc/shadow') }),
      open({ file: file('/proc/4242/mem', { magic: PROCFS }), write: true, procMem: true }),
    ];
    const findings = events.flatMap((e) => rules.evaluate(e, ctx));
    expect(findings.length).toBeGreaterThanOrEqual(events.length);
    expect(findings.filter((f) => f.exposure)).toEqual([]);
  });

  it("a rules file's levels move the floor with them", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-levels-'));
    try {
      const file = path.join(dir, 'r.json');
      fs.writeFileSync(file, JSON.stringify({ levels: { 'process.child': 'MEDIUM', 'network.outbound': 'CRITICAL', 'credentials.env': 'CRITICAL' } }));
      const custom = new RuleSet(loadRules(file));
      const scored = (e: Parameters<RuleSet['evaluate']>[0]) => {
        const book = new AlertBook();
        for (const f of custom.evaluate(e, ctx)) book.add(f);
        return scoreBreakdown({ alerts: book.all(), wxRegions: 0 });
      };
      expect(scored(exec({ filename: '/usr/bin/id', image: '/usr/bin/id', argv: ['id'] }))).toMatchObject({ sum: 5, floor: null, score: 5 });
      expect(scored(connect({}))).toMatchObject({ sum: 30, floor: { points: 70, rule: 'network.outbound', level: 'CRITICAL' }, score: 70 });
      // raised, exposure is still exposure
      expect(scored({ kind: 'env', pid: 100, names: ['GITHUB_TOKEN'] })).toMatchObject({ sum: 30, floor: null, score: 30 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the breakdown lets a reader recompute any score', () => {
    const anyAlert = fc.record({
      level: fc.constantFrom<Alert['level']>('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'),
      ssh: fc.boolean(),
      exposure: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(anyAlert, { maxLength: 12 }), fc.nat(5), (specs, wxRegions) => {
        const book = new AlertBook();
        specs.forEach((x, i) => book.add({ ...alert(x.level, x), key: `k${i}`, rule: `rule.${i}` }));
        const alerts = book.all();
        const b = scoreBreakdown({ alerts, wxRegions });
        const report = {
          alerts: alerts.map(reportAlert),
          rwx_regions: wxRegions,
          score_breakdown: b,
          threat_score: b.score,
          verdict: verdict(b.score),
        } as unknown as Report;
        expectScoreExplained(report);
      }),
      { numRuns: 300 },
    );
  });

  it('verdict thresholds', () => {
    expect([0, 14, 15, 39, 40, 69, 70, 100].map(verdict)).toEqual([
      'CLEAN', 'CLEAN', 'POTENTIALLY_UNWANTED', 'POTENTIALLY_UNWANTED', 'SUSPICIOUS', 'SUSPICIOUS', 'MALICIOUS', 'MALICIOUS',
    ]);
  });
});

describe('console summary', () => {
  const lines = (b: ReturnType<typeof scoreBreakdown>) => {
    let text = '';
    const out = { write: (t: string) => ((text += t), true) } as unknown as NodeJS.WritableStream;
    const view = new ConsoleRenderer(out, out, { colour: false, progress: false, timeout: 8 });
    const report = {
      verdict: verdict(b.score), threat_score: b.score, score_breakdown: b, bpf_used: true, bpf_error: null, alerts: [], new_connections: 0,
      rwx_regions: b.wx.regions, syscalls: { source: 'bpf', total: 0, top: [] }, drops: { total: 0 }, duration: 8, end_reason: 'timeout',
      coverage: { level: 'full', reasons: [] },
    } as unknown as Report;
    view.summary(report, null);
    return text.split('\n');
  };
  const alert = (level: Alert['level'], rule: string): Alert =>
    ({ rule, key: rule, level, category: 'PROCESS', title: '', description: '', evidence: '', pid: 1, count: 1, firstSeen: 0, lastSeen: 0 });

  it('names the alert that set the floor when the floor decided, and nothing more when the sum did', () => {
    expect(lines(scoreBreakdown({ alerts: [alert('CRITICAL', 'process.fileless')], wxRegions: 0 }))).toContain(
      'Threat Score   : 70.0/100  (floor: CRITICAL process.fileless)',
    );
    expect(lines(scoreBreakdown({ alerts: [alert('HIGH', 'process.child')], wxRegions: 0 }))).toContain('Threat Score   : 40.0/100  (floor: HIGH process.child)');
    expect(lines(scoreBreakdown({ alerts: [alert('CRITICAL', 'memory.wx-mmap')], wxRegions: 7 }))).toContain('Threat Score   : 100.0/100');
    expect(lines(scoreBreakdown({ alerts: [], wxRegions: 0 }))).toContain('Threat Score   : 0.0/100');
  });
});

describe('rules file', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-rules-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, body: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, body);
    return p;
  };

  it('replaces lists and overrides levels', () => {
    const custom = new RuleSet(loadRules(write('r.json', JSON.stringify({ ports: { '8443': 'admin panel' }, levels: { 'network.outbound': 'LOW' } }))));
    const found = custom.evaluate(connect({ port: 8443 }), ctx).map((f) => `${f.level} ${f.title}`);
    expect(found).toEqual(['HIGH Connection to port 8443 (admin panel)', 'LOW Outbound TCP connection established']);
    expect(custom.evaluate(connect({ port: 9001 }), ctx).map((f) => f.rule)).toEqual(['network.outbound']);
  });

  it.each([
    ['missing.json', null, /no such file/],
    ['bad.json', '{', /invalid rules file .*bad\.json: /],
    ['unknown.json', '{"colour": 1}', /unknown key "colour"/],
    ['level.json', '{"levels": {"x": "SEVERE"}}', /"levels.x" must be one of CRITICAL, HIGH/],
    ['port.json', '{"ports": {"99999": "x"}}', /"ports.99999" is not a port number/],
  ])('rejects %s with a one-line message', (name, body, message) => {
    const p = body === null ? path.join(dir, name) : write(name, body);
    expect(() => loadRules(p)).toThrow(message);
  });
});

describe('report file', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-report-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const report = { pid: 1, verdict: 'CLEAN', threat_score: 0 } as unknown as Report;

  it('is written with mode 0600 and replaces a planted symlink instead of following it', () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'keep me');
    const out = path.join(dir, 'r.json');
    fs.symlinkSync(victim, out);
    checkOutputPath(out);
    writeReport(out, report);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    expect(fs.lstatSync(out).isSymbolicLink()).toBe(false);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(report);
    expect(fs.readdirSync(dir).sort()).toEqual(['r.json', 'victim']); // no temp files left
  });
});

describe('console escaping', () => {
  it('makes control sequences, bidi overrides and C1 codes visible', () => {
    expect(escapeText('evil\x1b]0;pwned\x07\x1b[2J')).toBe('evil\\x1b]0;pwned\\x07\\x1b[2J');
    expect(escapeText('a\u202eb\u0085c\r\n')).toBe('a\\u{202e}b\\x85c\\x0d\\x0a');
    expect(escapeText('ok — ✓ ünïcödé')).toBe('ok — ✓ ünïcödé');
  });

  it('cuts long text with a marker', () => {
    expect(escapeText('x'.repeat(1000), 10)).toBe('xxxxxxxxxx…[+990 chars]');
  });
});

describe('persistence, tampering and the rules Falco users expect', () => {
  const pathEvent = (over: Partial<PathEvent>): PathEvent => ({
    ...task, kind: 'path', syscall: 'rename', op: 'rename', path: '', name: '', source: '', ...over,
  });
  const judged = (e: RuntimeEvent, c: RuleContext = ctx) => rules.evaluate(e, c).map((f) => `${f.level} ${f.rule}`);
  const write = (p: string, over: Partial<OpenEvent> = {}) => open({ write: true, flags: 1, file: file(p), ...over });

  it('a write to a persistence file is judged by class and level, and replaces "sensitive file opened"', () => {
    expect(judged(write('/home/u/.ssh/authorized_keys'))).toEqual(['CRITICAL persistence.remote-access']);
    expect(judged(write('/etc/ld.so.preload'))).toEqual(['CRITICAL persistence.preload']);
    expect(judged(write('/etc/shadow'))).toEqual(['CRITICAL persistence.accounts']);
    expect(judged(write('/etc/sudoers.d/99-evil'))).toEqual(['CRITICAL persistence.accounts']);
    expect(judged(write('/etc/cron.d/job'))).toEqual(['HIGH persistence.scheduled']);
    expect(judged(write('/home/u/.config/systemd/user/x.service'))).toEqual(['HIGH persistence.scheduled']);
    expect(judged(write('/home/u/.bashrc'))).toEqual(['HIGH persistence.shell-startup']);
    expect(judged(write('/etc/profile.d/evil.sh'))).toEqual(['HIGH persistence.shell-startup']);
    expect(judged(write('/usr/local/bin/kworker'))).toEqual(['HIGH persistence.binaries']);
    // reading them is not a write; /etc/shadow read stays the secret read it is
    expect(judged(open({ file: file('/home/u/.bashrc') }))).toEqual([]);
    expect(judged(open({ file: file('/etc/shadow') }))).toEqual(['HIGH file.sensitive']);
  });

  it('says when io_uring made the open', () => {
    const [f] = rules.evaluate(write('/root/.ssh/authorized_keys', { uring: true }), ctx);
    expect(f.title).toBe('SSH access file written: /root/.ssh/authorized_keys (through io_uring)');
    expect(f.evidence).toBe('path=/root/.ssh/authorized_keys fd=3 write syscall=openat via=io_uring pid=100 comm=wasmtime');
    const [s] = rules.evaluate(open({ file: file('/etc/shadow'), uring: true }), ctx);
    expect(s.title).toBe('Sensitive file opened through io_uring: /etc/shadow');
  });

  it('a rename, link or symlink onto a persistence file, a wiped log, a link to a secret', () => {
    expect(judged(pathEvent({ path: '/etc/systemd/system/x.service', source: '/tmp/x' }))).toEqual(['HIGH persistence.scheduled']);
    expect(judged(pathEvent({ syscall: 'linkat', op: 'link', path: '/etc/cron.d/x', source: '/tmp/x' }))).toEqual(['HIGH persistence.scheduled']);
    expect(judged(pathEvent({ syscall: 'truncate', op: 'truncate', path: '/etc/passwd' }))).toEqual(['CRITICAL persistence.accounts']);
    expect(judged(pathEvent({ syscall: 'unlink', op: 'unlink', path: '/var/log/wtmp' }))).toEqual(['HIGH tamper.log']);
    expect(judged(pathEvent({ syscall: 'ftruncate', op: 'truncate', path: '/home/u/.bash_history' }))).toEqual(['HIGH tamper.log']);
    expect(judged(pathEvent({ syscall: 'symlink', op: 'symlink', path: '/tmp/s', source: '/etc/shadow' }))).toEqual(['HIGH file.link-sensitive']);
    expect(judged(pathEvent({ syscall: 'link', op: 'link', path: '/tmp/h', source: '/etc/sudoers' }))).toEqual(['HIGH file.link-sensitive']);
    // removing a persistence file, a rename inside /tmp, a symlink to an ordinary file: nothing
    expect(judged(pathEvent({ syscall: 'unlink', op: 'unlink', path: '/etc/cron.d/x' }))).toEqual([]);
    expect(judged(pathEvent({ path: '/tmp/b', source: '/tmp/a' }))).toEqual([]);
    expect(judged(pathEvent({ syscall: 'symlink', op: 'symlink', path: '/tmp/s', source: '/etc/hostname' }))).toEqual([]);
    // a name the decoder could not join (unknown directory) is not judged by the caller's relative string
    expect(judged(pathEvent({ path: '', name: '.bashrc' }))).toEqual([]);
  });

  it("another process's /proc/PID/environ is HIGH; its own is not", () => {
    const environ = (p: string) => open({ file: file(p, { magic: PROCFS }) });
    expect(judged(environ('/proc/4242/environ'))).toEqual(['HIGH credentials.proc-environ']);
    expect(judged(environ('/proc/4242/task/4243/environ'))).toEqual(['HIGH credentials.proc-environ']);
    expect(judged(environ('/proc/100/environ'))).toEqual([]);
    expect(judged(open({ file: file('/proc/4242/environ') }))).toEqual([]); // not procfs: a file named so
  });

  it('a shell on a socket is a reverse shell; network tools are named', () => {
    expect(judged(exec({ stdioSocket: true }))).toEqual(['CRITICAL process.reverse-shell']);
    expect(judged(exec({ image: '/usr/bin/python3', argv: ['python3'], stdioSocket: true }))).toEqual(['CRITICAL process.reverse-shell']);
    expect(judged(exec({ image: '/usr/bin/id', argv: ['id'], stdioSocket: true }))).toEqual(['HIGH process.reverse-shell']);
    expect(judged(exec({ image: '/usr/bin/curl', argv: ['curl', 'http://x/s.sh'] }))).toEqual(['HIGH process.network-tool']);
    expect(judged(exec({ image: '/usr/bin/nc', argv: ['nc', '-e', '/bin/sh'] }))).toEqual(['HIGH process.network-tool']);
    expect(judged(exec({}))).toEqual(['CRITICAL process.shell']);
  });

  const sys = (name: string, nr: number, args: number[], over: Partial<SyscallEvent> = {}): SyscallEvent => ({
    ...task, kind: 'syscall', nr, name, args, compat: false, remoteAddr: 0, ...over,
  });

  it('packet and raw sockets, PTRACE_TRACEME, module loads', () => {
    expect(judged(sys('socket', 41, [17, 3, 768]))).toEqual(['HIGH network.packet-socket']);
    expect(judged(sys('socket', 41, [2, 3, 1]))).toEqual(['HIGH network.raw-socket']);
    expect(rules.evaluate(sys('socket', 41, [2, 3, 0], { uring: true }), ctx)[0].evidence).toMatch(/^syscall=socket family=2 type=SOCK_RAW via=io_uring /);
    expect(judged(sys('ptrace', 101, [0, 0, 0]))).toEqual(['HIGH syscall.ptrace']);
    expect(judged(sys('init_module', 175, [0, 0, 0]))).toEqual(['CRITICAL syscall.init_module']);
  });

  it("a runtime's own io_uring is INFO; any other program's keeps its level", () => {
    const setup = sys('io_uring_setup', 425, [8, 0, 0]);
    const node = { name: 'node', engine: 'V8', jit: 'rwx-mprotect', modules: [], embedder: null } as unknown as ReturnType<RuleContext['runtime']>;
    expect(judged(setup, { ...ctx, runtime: () => node })).toEqual(['INFO syscall.io_uring-runtime']);
    expect(judged(setup)).toEqual(['MEDIUM syscall.io_uring_setup']);
  });

  it('rules files replace a persistence class and reject unknown ones', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-rules-'));
    const f = path.join(dir, 'r.json');
    fs.writeFileSync(f, JSON.stringify({ persistence: { scheduled: ['/opt/jobs/**'] }, logFiles: ['/srv/log/**'] }));
    const custom = new RuleSet(loadRules(f));
    const j = (e: RuntimeEvent) => custom.evaluate(e, ctx).map((x) => x.rule);
    expect(j(write('/opt/jobs/a'))).toEqual(['persistence.scheduled']);
    expect(j(write('/etc/cron.d/a'))).toEqual([]);
    expect(j(write('/root/.ssh/authorized_keys'))).toEqual(['persistence.remote-access']); // other classes keep their defaults
    expect(j(pathEvent({ syscall: 'unlink', op: 'unlink', path: '/srv/log/a' }))).toEqual(['tamper.log']);
    fs.writeFileSync(f, JSON.stringify({ persistence: { boot: ['/x'] } }));
    expect(() => loadRules(f)).toThrow(`invalid rules file ${f}: unknown persistence class "boot" (known: remote-access, preload, accounts, scheduled, shell-startup, binaries)`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('one exec, seen twice, is judged once', () => {
  it('a child seen running by /proc and then exec-ing by the kernel (or reported twice by the kernel) raises one alert', () => {
    const alerts: Alert[] = [];
    const c = new Case({ pid: 100, comm: 'node', exe: '/usr/bin/node', cmdline: ['node'], launched: false, user: null }, { rules, procChildren: false, onAlert: (a) => alerts.push(a) });
    c.begin();
    c.judgeFromProc(101);
    c.handle({ kind: 'process', pid: 101, ppid: 100, comm: 'sh', exe: '', argv: ['/bin/sh', '-c', 'sleep 1'] });
    c.handle(exec({ argv: ['/bin/sh', '-c', 'sleep 1'], image: '/usr/bin/dash' }));
    c.handle(exec({ argv: ['/bin/sh', '-c', 'sleep 1'], image: '', entrySeen: false }));
    expect(alerts.filter((a) => a.rule === 'process.shell')).toHaveLength(1);
    // another command line from the same process is another exec
    c.handle(exec({ argv: ['/bin/sh', '-c', 'id'], image: '/usr/bin/dash' }));
    expect(alerts.filter((a) => a.rule === 'process.shell')).toHaveLength(2);
  });
});
