/**
 * Loading, attaching and tearing down: what stop() leaves behind (nothing),
 * what repeated cycles leak (nothing), and how refusals reach JS.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { startProbes, ProbeError } from '../src/probes';
import { describeBpf, openFds, ROOT, sleep } from './helpers/env';

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

describe('options', () => {
  it('rejects a ring buffer size that is not a power of two', () => {
    expect(() => startProbes({ ringBufferBytes: 5000 })).toThrow(/power of two/);
  });
});

describeBpf('loading and teardown', () => {
  it('attaches every probe, and stop() leaves none of our programs or links in the kernel', async () => {
    const probes = startProbes({ countSyscalls: true });
    const programs = probes.programs();
    expect(programs.map((p) => p.name).sort()).toEqual(['on_exec', 'on_exit', 'on_fork', 'sys_enter', 'sys_exit']);
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
  });

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
