/**
 * The npm package as users get it: packed, installed into an empty directory
 * with install scripts disabled (as npm 11 does by default for dependencies),
 * then run. No compiler, no build directory: only what the tarball carries.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildFixture, describeBpf, ROOT, sleep, withoutSudo } from './helpers/env';

let work: string;
let tarball: string;
let bin: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-pack-'));
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  tarball = path.join(work, packed.trim().split('\n').pop()!);
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, stdio: 'pipe' });
  bin = path.join(app, 'node_modules', '.bin', 'wasmshark');
}, 240000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('carries the prebuilt addon, the BPF object, types and the demo, and no tests or build junk', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const f of [
      'package/prebuilds/linux-x64/node.napi.glibc.node',
      'package/bpf/wasmshark.bpf.o',
      'package/bpf/wasmshark.legacy.bpf.o',
      'package/dist/cli.js',
      'package/dist/index.d.ts',
      'package/demo/prebuilt/stager.node',
      'package/demo/miner.js',
      'package/README.md',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^package\/(test|build|deps|bench-results|node_modules|\.ci)\//.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('installed without scripts, runs --version and --help', () => {
    expect(fs.existsSync(path.join(work, 'app', 'node_modules', 'wasmshark', 'build'))).toBe(false);
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toBe(`wasmshark ${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: wasmshark --pid PID/);
  });
});

describeBpf('the installed package, as root', () => {
  it('catches a W+X trigger with the prebuilt addon: --pid PID --bpf --timeout 3 --output r.json', async () => {
    const wx = spawn(buildFixture('wx_trigger'), [], { stdio: 'ignore' });
    try {
      await sleep(500);
      const out = path.join(work, 'r.json');
      const r = spawnSync(bin, ['--pid', String(wx.pid), '--bpf', '--timeout', '3', '--output', out], { encoding: 'utf8', cwd: work });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const report = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(report).toMatchObject({ verdict: 'MALICIOUS', bpf_used: true });
    } finally {
      wx.kill();
    }
  });

  it('without root, `wasmshark demo` explains and still gets both verdicts through /proc', () => {
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, path.join(ROOT, 'dist', 'cli.js'), 'demo'],
      { encoding: 'utf8', cwd: '/', env: { ...withoutSudo(), NO_COLOR: '1' } },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^wasmshark: not running as root: the eBPF probes need root, so this demo watches through \/proc polling\./);
    expect(r.stdout).toMatch(/eBPF Active {4}: ✗ \/proc polling only/);
    expect(r.stdout).toMatch(/^benign WebAssembly workload {3}: CLEAN/m);
    expect(r.stdout).toMatch(/^WebAssembly cryptominer {7}: MALICIOUS/m);
  }, 90000);

  it('`wasmshark demo` prints a CLEAN and a MALICIOUS verdict', () => {
    const r = spawnSync(bin, ['demo'], { encoding: 'utf8', cwd: work, env: { ...withoutSudo(), NO_COLOR: '1' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^benign WebAssembly workload {3}: CLEAN \(0\.0\/100\)$/m);
    expect(r.stdout).toMatch(/^WebAssembly cryptominer {7}: MALICIOUS \(\d+\.\d\/100\)$/m);
    // root with no invoking user: the samples run as nobody, never as root
    expect(r.stdout.match(/^User {11}: .*$/gm)).toEqual([
      'User           : nobody (uid 65534, gid 65534, groups 65534)',
      'User           : nobody (uid 65534, gid 65534, groups 65534)',
    ]);
  }, 90000);
});
