/**
 * The kernel matrix: the shipped objects on Debian's stock kernels (5.10,
 * 6.1, 6.12, booted in qemu) and on this machine's kernel, loaded by the
 * addon's own loader in both syscall modes, with real processes acting.
 * What users' kernels see; scripts/kernels/matrix.js does the work.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describeBpf, ROOT } from './helpers/env';

interface Session {
  asked: string;
  loaded: boolean;
  error?: string;
  mode?: string;
  object?: string;
  ia32?: boolean;
  compat?: boolean;
  warnings?: string[];
  backend?: string;
  backend_note?: string;
  unhooked?: string[];
  handOff?: { links: number; handoffMs: number; releasedMs: number; left: number };
  programs: Array<{ name: string; stack: number; insns: number }>;
  cases: Array<{ name: string; ok: boolean | null; why?: string }>;
  drops: number | null;
}

interface Row {
  label: string;
  release: string | null;
  booted: boolean;
  error: string | null;
  sessions: Record<string, Session>;
}

const CASES = ['wx-mmap', 'rw-rx-mprotect', 'exec-child', 'connect', 'memfd-exec', 'memfd-code', 'shellcode-syscall', 'sensitive-open', 'int80-memory', 'bystander'];

describeBpf('the kernel matrix', () => {
  let rows: Row[] = [];

  beforeAll(() => {
    const json = path.join(ROOT, 'test', '.build', 'kernels.json');
    fs.mkdirSync(path.dirname(json), { recursive: true });
    fs.rmSync(json, { force: true });
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'kernels', 'matrix.js'), '--json', json], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      // a failed check exits 1: the rows below say which
    }
    rows = JSON.parse(fs.readFileSync(json, 'utf8')) as Row[];
  }, 20 * 60 * 1000);

  it('boots every kernel and runs the checks on the host too', () => {
    expect(rows.map((r) => r.label)).toEqual(['host', '5.10', '6.1', '6.12']);
    for (const r of rows) expect({ kernel: r.label, booted: r.booted, error: r.error }).toEqual({ kernel: r.label, booted: true, error: null });
    expect(rows.find((r) => r.label === '5.10')!.release).toMatch(/^5\.10\./);
    expect(rows.find((r) => r.label === '6.1')!.release).toMatch(/^6\.1\./);
    expect(rows.find((r) => r.label === '6.12')!.release).toMatch(/^6\.12\./);
  });

  describe.each(['host', '5.10', '6.1', '6.12'])('on %s', (label) => {
    const row = () => rows.find((r) => r.label === label)!;

    it.each(['lean', 'exact'])('%s hooks load as asked, with no warning, and see every check', (mode) => {
      const s = row().sessions[mode];
      expect(s).toBeDefined();
      expect({ loaded: s.loaded, error: s.error }).toEqual({ loaded: true, error: undefined });
      expect(s).toMatchObject({ mode, warnings: [], drops: 0 });
      // kernels before 5.17 have no bpf_loop() or bpf_find_vma(): the legacy object
      expect(s.object).toBe(label === '5.10' ? 'legacy' : 'full');
      expect(s.compat).toBe(s.ia32);
      expect(s.cases.map((c) => c.name)).toEqual(CASES);
      for (const c of s.cases) {
        const expected = c.name === 'int80-memory' && !s.ia32 ? null : true;
        expect({ check: c.name, ok: c.ok, why: c.why }).toEqual({ check: c.name, ok: expected, why: expected ? undefined : expect.any(String) });
      }
    });

    it('by default: trampolines where the kernel allows them (the VMs), the tracepoints without a warning where it refuses them (this host)', () => {
      const s = row().sessions.trampoline;
      expect(s).toBeDefined();
      expect({ loaded: s.loaded, error: s.error }).toEqual({ loaded: true, error: undefined });
      expect(s).toMatchObject({ warnings: [], drops: 0, unhooked: [] });
      expect(s.object).toBe(label === '5.10' ? 'legacy' : 'full');
      if (label === 'host') {
        expect(s).toMatchObject({ mode: 'lean', backend: 'tracepoint', backend_note: 'trampolines refused by this kernel: EPERM' });
        expect(s.programs.filter((p) => p.name.startsWith('tramp_'))).toEqual([]);
      } else {
        expect(s).toMatchObject({ mode: 'trampoline', backend: 'trampoline', backend_note: '' });
        // no syscall tracepoint: the kernel functions see every ABI (no int 0x80 pair either)
        expect(s.programs.filter((p) => /^lean_/.test(p.name))).toEqual([]);
        expect(s.programs.map((p) => p.name)).toEqual(expect.arrayContaining(['tramp_mmap', 'tramp_mprotect_enter', 'tramp_mprotect_exit', 'tramp_exit_openat', 'tramp_connect']));
        // the CLI's exit: the links handed to a short-lived child are all released
        expect(s.handOff).toMatchObject({ left: 0 });
        expect(s.handOff!.links).toBe(s.programs.length);
      }
      expect(s.compat).toBe(s.ia32);
      expect(s.cases.map((c) => c.name)).toEqual(CASES);
      for (const c of s.cases) {
        const expected = c.name === 'int80-memory' && !s.ia32 ? null : true;
        expect({ check: c.name, ok: c.ok, why: c.why }).toEqual({ check: c.name, ok: expected, why: expected ? undefined : expect.any(String) });
      }
    });

    it.each(['trampoline', 'lean', 'exact'])('%s: every program leaves 64 of the 512 stack bytes unused', (mode) => {
      const s = row().sessions[mode];
      expect(s.programs.length).toBeGreaterThan(3);
      for (const p of s.programs) {
        expect(p.insns).toBeGreaterThan(0);
        if (!(p.stack > 0 && p.stack <= 448)) throw new Error(`${label} ${mode}: ${p.name} uses ${p.stack} of the verifier's 512 stack bytes`);
      }
    });
  });
});
