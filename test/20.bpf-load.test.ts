/**
 * Loading, attaching and tearing down: what stop() leaves behind (nothing),
 * what repeated cycles leak (nothing), and how refusals reach JS.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BPF_OBJECT_PATH, loadAddon } from '../src/native';
import { startProbes, ProbeError } from '../src/probes';
import { assessCoverage } from '../src/coverage';
import { kernelFacts } from '../src/session';
import { describeBpf, ia32Emulation, openFds, ROOT, sleep } from './helpers/env';

/** The verifier's stack limit is 512 bytes; a program must leave this much of it unused on every kernel. */
const STACK_HEADROOM_BYTES = 64;

/** The lean mode's programs, as the object declares them (one per syscall tracepoint). */
function leanPrograms(): string[] {
  const names = execFileSync('bpftool', ['btf', 'dump', 'file', path.join(ROOT, 'bpf', 'wasmshark.bpf.o')], { encoding: 'utf8' });
  return [...names.matchAll(/FUNC '(lean_(?:enter|exit)_\w+)'/g)].map((m) => m[1]);
}

/** Ids of every BPF program and link loaded in the kernel right now. */
function kernelIds(kind: 'prog' | 'link'): Set<number> {
  const out = execFileSync('bpftool', [kind, 'show', '--json'], { encoding: 'utf8' });
  return new Set((JSON.parse(out) as Array<{ id: number }>).map((p) => p.id));
}

describe('the built addon', () => {
  it('links libbpf, libelf and zlib in: it needs nothing but libc at run time', () => {
    const addon = path.join(ROOT, 'build', 'Release', 'wasmshark.node');
    const deps = execFileSync('ldd', [addon], { encoding: 'utf8' });
    expect(deps).not.toMatch(/libbpf|libelf|libz|libstdc\+\+/);
    expect(deps).toMatch(/libc\.so\.6/);
  });
});

describe('what the addon was built with', () => {
  it('names the static libraries and their Debian sources, as deps/VERSIONS records them, in --version --verbose', () => {
    const recorded = fs.readFileSync(path.join(ROOT, 'deps', 'VERSIONS'), 'utf8').trim().split('\n');
    expect(recorded).toEqual([expect.stringMatching(/^libbpf 1\.1\.2 \(Debian source 1\.1\.2-\S+, orig sha256 [0-9a-f]{16}…\)$/), expect.stringMatching(/^elfutils 0\.188 \(Debian source 0\.188-\S+, orig sha256 [0-9a-f]{16}…\)$/)]);
    const out = execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--version', '--verbose'], { encoding: 'utf8' });
    expect(out).toContain('libbpf         : v1.1 (linked into the addon)');
    for (const line of recorded) expect(out).toContain(`built from     : ${line}`);
  });
});

describe('options', () => {
  it('rejects a ring buffer size that is not a power of two', () => {
    expect(() => startProbes({ ringBufferBytes: 5000 })).toThrow(/power of two/);
  });
});

describeBpf('loading and teardown', () => {
  it.each([
    ['exact', () => ['sys_enter', 'sys_exit']],
    // one tracepoint per syscall the rules need; a syscall this kernel does not have has none
    // and where int 0x80 is a syscall, the two that see 32-bit syscalls
    ['lean', (absent: string[], compat: boolean) => [
      ...leanPrograms().filter((p) => !absent.some((a) => p.endsWith(`_${a}`))),
      ...(compat ? ['lean_compat_enter', 'lean_compat_exit'] : []),
    ]],
  ] as const)('%s: attaches every probe, and stop() leaves none of our programs or links in the kernel', async (mode, expected) => {
    const probes = startProbes({ syscalls: mode, countSyscalls: true });
    expect(probes.hooks).toMatchObject({ syscalls: mode, backend: mode === 'lean' ? 'tracepoint' : 'raw-syscalls', warnings: [], object: 'full', compat: ia32Emulation().ok });
    const programs = probes.programs();
    // the io_uring programs load where the kernel's requests carry cmd and cqe (6.0 on, as here; test/25 covers older kernels)
    const uring = ['on_uring_complete', 'on_uring_submit'];
    expect(programs.map((p) => p.name).sort()).toEqual(['on_exec', 'on_exit', 'on_fork', ...uring, ...expected(probes.hooks.absent, probes.hooks.compat)].sort());
    for (const p of programs) expect(p.linkId).toBeGreaterThan(0);
    const progsBefore = kernelIds('prog');
    const linksBefore = kernelIds('link');
    for (const p of programs) {
      expect(progsBefore.has(p.progId)).toBe(true);
      expect(linksBefore.has(p.linkId)).toBe(true);
    }

    await probes.stop();
    expect(probes.programs()).toEqual([]);
    // links go at once; the kernel frees programs after an RCU grace period
    expect(programs.filter((p) => kernelIds('link').has(p.linkId))).toEqual([]);
    const deadline = Date.now() + 10000;
    let left = programs;
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(50);
      const now = kernelIds('prog');
      left = programs.filter((p) => now.has(p.progId));
    }
    expect(left).toEqual([]);
  });

  it.each(['lean', 'exact'] as const)("%s: every program leaves 64 of the verifier's 512 stack bytes unused or more", async (mode) => {
    const probes = startProbes({ syscalls: mode, verifierStats: true });
    try {
      const programs = probes.programs();
      expect(programs.length).toBeGreaterThan(3);
      for (const p of programs) {
        expect(p.insnsProcessed).toBeGreaterThan(0);
        expect({ name: p.name, stack: p.stackBytes }).toEqual({ name: p.name, stack: expect.any(Number) });
        if (p.stackBytes! > 512 - STACK_HEADROOM_BYTES) throw new Error(`${p.name} uses ${p.stackBytes} of the verifier's 512 stack bytes`);
      }
    } finally {
      await probes.stop();
    }
  });

  it('chooses the tracepoint backend without a word where the kernel refuses trampolines (this host: EPERM), and says why in hooks', async () => {
    const probes = startProbes();
    try {
      expect(probes.hooks).toMatchObject({ syscalls: 'lean', backend: 'tracepoint', warnings: [], unhooked: [] });
      expect(probes.hooks.backendNote).toBe('trampolines refused by this kernel: EPERM');
      expect(probes.programs().filter((p) => p.name.startsWith('tramp_'))).toEqual([]);
      expect(probes.programs().map((p) => p.name)).toContain('lean_enter_mmap');
    } finally {
      await probes.stop();
    }
  });

  it("backend: 'trampoline' refused: one warning naming the kernel's refusal, the tracepoint backend, and coverage names it", async () => {
    const probes = startProbes({ backend: 'trampoline' });
    try {
      expect(probes.hooks).toMatchObject({ syscalls: 'lean', backend: 'tracepoint' });
      expect(probes.hooks.warnings).toEqual([
        'the trampoline backend was asked for: trampolines refused by this kernel: EPERM; using the syscall tracepoints instead',
      ]);
      expect(probes.programs().map((p) => p.name)).toContain('lean_exit_openat');
      const coverage = assessCoverage({
        bpf: true, bpfError: null, syscallMode: probes.hooks.syscalls, kernel: kernelFacts(probes), hooks: probes.programs().map((p) => p.name),
        launched: true, drops: probes.drops(), malformed: 0, syscalls: 'sampled', pollIntervalMs: 500, endedOnError: false,
      });
      expect(coverage.kernel).toMatchObject({ backend: 'tracepoint', backend_note: 'trampolines refused by this kernel: EPERM' });
    } finally {
      await probes.stop();
    }
    // and forcing the tracepoints is a choice: no warning
    const forced = startProbes({ backend: 'tracepoint' });
    try {
      expect(forced.hooks).toMatchObject({ backend: 'tracepoint', warnings: [], backendNote: 'the tracepoint backend was asked for' });
    } finally {
      await forced.stop();
    }
    expect(() => startProbes({ backend: 'kprobe' as never })).toThrow(/backend must be 'trampoline' or 'tracepoint'/);
  });

  it('lean without the 32-bit hooks (compatHooks: false) attaches neither of them', async () => {
    const probes = startProbes({ compatHooks: false });
    try {
      expect(probes.hooks.compat).toBe(false);
      expect(probes.programs().map((p) => p.name).filter((n) => n.startsWith('lean_compat_'))).toEqual([]);
    } finally {
      await probes.stop();
    }
  });

  it('exact hooks the verifier refuses fall back to the lean hooks, with one warning naming the program and the reason', async () => {
    // the shipped probes plus one exact-mode program no verifier accepts
    const object = path.join(ROOT, 'test', '.build', 'refused-exact.bpf.o');
    fs.mkdirSync(path.dirname(object), { recursive: true });
    execFileSync(fs.existsSync('/usr/bin/clang-14') ? 'clang-14' : 'clang', [
      '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I/usr/include/${process.arch === 'x64' ? 'x86_64' : process.arch}-linux-gnu`,
      '-I', path.dirname(BPF_OBJECT_PATH), '-c', path.join(ROOT, 'test', 'fixtures', 'refused-exact.bpf.c'), '-o', object,
    ]);
    const { Session } = loadAddon();
    const session = new Session({ objectPath: object, legacyObjectPath: object, syscalls: 'exact' });
    try {
      const hooks = session.hooks();
      expect(hooks.syscalls).toBe('lean');
      expect(hooks.warnings).toEqual([
        expect.stringMatching(/^exact syscall hooks could not be loaded \(the kernel's verifier refused program refused_enter: .*invalid mem access.*\); using the lean hooks instead$/),
      ]);
      expect(hooks.warnings[0]).not.toMatch(/run as root|CAP_BPF/);
      expect(session.programs().map((p) => p.name)).toContain('lean_enter_mmap');
    } finally {
      await session.stop();
    }
  });

  it('stop({ handOff }) leaves the release to a child: once the process has exited, nothing of ours stays in the kernel', async () => {
    const script = [
      `const { startProbes } = require(${JSON.stringify(path.join(ROOT, 'dist', 'probes.js'))});`,
      'const p = startProbes();',
      'const links = p.programs().map((x) => x.linkId);',
      "const live = () => new Set(JSON.parse(require('child_process').execFileSync('bpftool', ['link', 'show', '--json'], { encoding: 'utf8' })).map((l) => l.id));",
      "const probeFds = () => require('fs').readdirSync('/proc/self/fd').filter((fd) => { try { return /^anon_inode:(\\[perf_event\\]|bpf_link)/.test(require('fs').readlinkSync('/proc/self/fd/' + fd)); } catch { return false; } }).length;",
      'const before = probeFds();',
      'p.stop({ handOff: true }).then(() => {',
      '  const now = live();',
      '  console.log(JSON.stringify({ links, before, after: probeFds(), heldAtStop: links.filter((id) => now.has(id)).length }));',
      '  process.exit(0);',
      '});',
    ].join('\n');
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    const { links, before, after, heldAtStop } = JSON.parse(out) as { links: number[]; before: number; after: number; heldAtStop: number };
    expect(links.length).toBeGreaterThan(3);
    // this process let go of every fd of the probes (so its exit releases nothing: that would wait a grace period
    // per probe), while the child still held them: stop() did not wait for the release (one grace period per link)
    expect(before).toBeGreaterThanOrEqual(links.length);
    expect(after).toBe(0);
    expect(heldAtStop).toBeGreaterThan(0);
    // the child that took them over releases them one grace period at a time, then exits
    const deadline = Date.now() + 20000;
    let left = links;
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(50);
      const now = kernelIds('link');
      left = links.filter((id) => now.has(id));
    }
    expect(left).toEqual([]);
  });

  it('loads in a process that a steady stream of signals interrupts (a CPU profiler: SIGPROF every 100 µs)', () => {
    // The verifier gives up with EAGAIN when the loading thread has a signal pending.
    const script = `const { startProbes } = require(${JSON.stringify(path.join(ROOT, 'dist', 'probes.js'))});
      for (let i = 0; i < 3; i++) { const p = startProbes({}); console.log('loaded ' + p.programs().length); p.stop(); }`;
    const profiles = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-prof-'));
    try {
      const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profiles, '-e', script], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^loaded [1-9]\d*$/), expect.stringMatching(/^loaded /), expect.stringMatching(/^loaded /)]);
    } finally {
      fs.rmSync(profiles, { recursive: true, force: true });
    }
  });

  it('stop() is safe to call twice, concurrently or after it resolved', async () => {
    const probes = startProbes();
    await Promise.all([probes.stop(), probes.stop()]);
    await probes.stop();
    expect(probes.drops().total).toBe(0);
    expect(() => probes.addTarget(process.pid)).toThrow(/stopped/);
  });

  it('50 start/stop cycles leak no file descriptors', async () => {
    // warm-up: the first load opens things that stay (the addon itself, BTF caches)
    await startProbes().stop();
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const probes = startProbes({ countSyscalls: i % 2 === 0 });
      probes.addTarget(process.pid);
      await probes.stop();
    }
    expect(openFds()).toBe(before);
  }, 150000); // 50 loads of ~50 links each, attached one by one

  it('says no such process for a pid that does not exist', () => {
    const probes = startProbes();
    try {
      expect(() => probes.addTarget(4194303)).toThrow(/no such process: 4194303/);
    } finally {
      void probes.stop();
    }
  });

  it('refuses without privilege with a ProbeError carrying errno and code', () => {
    // a child without any capability, as an unprivileged user would run it
    const script = `
      const { startProbes } = require(${JSON.stringify(path.join(ROOT, 'dist', 'probes.js'))});
      try { startProbes(); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message, errno: e.errno, code: e.code })); }
    `;
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
        process.execPath, '-e', script],
      { encoding: 'utf8', cwd: ROOT },
    );
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.name).toBe('ProbeError');
    expect(result.code).toBe('EPERM');
    expect(result.errno).toBe(1);
    expect(result.message).toMatch(/^cannot load BPF programs: Operation not permitted \(run as root/);
  });
});

it('ProbeError is an Error', () => {
  const e = new ProbeError('x', { errno: 1, code: 'EPERM' });
  expect(e).toBeInstanceOf(Error);
  expect(e.code).toBe('EPERM');
});

describeBpf('tracefs for the lean hooks', () => {
  /** Runs startProbes() in a child inside a mount namespace of its own; returns what it saw. */
  function probeInNamespace(setup: string, prefix: string[] = []): { hooks: unknown; tracefs: boolean; error?: string } {
    const script = `
      const fs = require('fs');
      const { startProbes } = require(${JSON.stringify(path.join(ROOT, 'dist', 'probes.js'))});
      try {
        const p = startProbes();
        const hooks = p.hooks;
        p.stop().then(() => console.log(JSON.stringify({ hooks, tracefs: fs.existsSync('/sys/kernel/tracing/events/syscalls') })));
      } catch (e) { console.log(JSON.stringify({ error: e.message })); }
    `;
    // a private mount namespace: what the child mounts or unmounts is gone with it
    const r = spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `${setup} && exec "$@"`, 'sh', ...prefix, process.execPath, '-e', script],
      { encoding: 'utf8', cwd: ROOT },
    );
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }
  const UNMOUNT = 'umount -R /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null; true';

  it('mounts tracefs when it is missing, and hooks lean', () => {
    const seen = probeInNamespace(`${UNMOUNT} && test ! -e /sys/kernel/tracing/events`);
    expect(seen).toMatchObject({ hooks: { syscalls: 'lean', warnings: [] }, tracefs: true });
  });

  it('without tracefs and without the right to mount it: exact hooks, with one warning that says why', () => {
    const seen = probeInNamespace(UNMOUNT, ['setpriv', '--inh-caps=-sys_admin', '--bounding-set=-sys_admin']);
    expect(seen).toMatchObject({ hooks: { syscalls: 'exact' }, tracefs: false });
    const { warnings } = seen.hooks as { warnings: string[] };
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^tracefs is not mounted at \/sys\/kernel\/tracing and mounting it failed: Operation not permitted; hooking every syscall instead/);
  });
});
