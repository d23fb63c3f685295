/**
 * `wasmshark demo`: runs the bundled samples under monitoring and prints each
 * verdict. A benign WebAssembly workload, then a WebAssembly "cryptominer"
 * whose host talks Stratum to a local fake pool and stages W+X memory through
 * a native host function. Everything stays on this machine; no compiler is
 * needed (the stager ships prebuilt).
 *
 * As root the samples never run as root: as the user who ran sudo, else as
 * nobody, from a copy of the sample files that user can read (the package
 * may sit in root's own npm cache).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { ConsoleRenderer, escapeText, wantsColour } from '../console';
import { monitorCommand, type Monitor, type MonitorOptions } from '../monitor';
import { PACKAGE_ROOT } from '../native';
import type { Report } from '../report';
import { resolveUser, sudoUser, type UserIdentity } from '../user';
import { VERSION } from '../version';
import type { Io } from './io';
import { onStopSignals } from './signals';

const DEMO_DIR = path.join(PACKAGE_ROOT, 'demo');
export const STAGER_PATH = path.join(DEMO_DIR, 'prebuilt', 'stager.node');
const SAMPLE_FILES = ['benign.js', 'miner.js', 'miner-wasm.js'];

/** Stratum ports the rules know; the fake pool takes the first free one. */
const POOL_PORTS = [3333, 4444, 5555, 7777, 14444];

/** A fake Stratum pool: answers subscribe and authorize, hands out one job, accepts shares. */
async function fakePool(): Promise<net.Server> {
  for (const port of POOL_PORTS) {
    const server = net.createServer((sock) => {
      sock.setEncoding('utf8');
      sock.on('error', () => {});
      let buffered = '';
      sock.on('data', (chunk: string) => {
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          let msg: { id?: number; method?: string };
          try {
            msg = JSON.parse(buffered.slice(0, nl));
          } catch {
            msg = {};
          }
          buffered = buffered.slice(nl + 1);
          const reply = (o: object) => sock.write(`${JSON.stringify(o)}\n`);
          if (msg.method === 'mining.subscribe') reply({ id: msg.id, result: [[], '08000002', 4], error: null });
          if (msg.method === 'mining.authorize') {
            reply({ id: msg.id, result: true, error: null });
            reply({ id: null, method: 'mining.notify', params: ['job-1', 0x5eed, true] });
          }
          if (msg.method === 'mining.submit') reply({ id: msg.id, result: true, error: null });
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listening) return server;
  }
  throw new Error(`cannot start the demo's fake mining pool: ports ${POOL_PORTS.join(', ')} are all taken`);
}

/** A root-owned directory anyone can read, holding the samples and the stager. */
function copySamples(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-demo-'));
  fs.chmodSync(dir, 0o755);
  for (const f of SAMPLE_FILES) fs.copyFileSync(path.join(DEMO_DIR, f), path.join(dir, f), fs.constants.COPYFILE_EXCL);
  fs.copyFileSync(STAGER_PATH, path.join(dir, path.basename(STAGER_PATH)), fs.constants.COPYFILE_EXCL);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  return dir;
}

interface SampleOptions extends MonitorOptions {
  user: UserIdentity | null;
  dir: string;
}

/** The sample being monitored, for the stop signals: stopped, it still gets its report. */
interface Running {
  monitor: Monitor | null;
  interrupted: boolean;
}

async function runSample(io: Io, title: string, args: string[], options: SampleOptions, running: Running): Promise<Report> {
  io.out.write(`\n── ${title} ${'─'.repeat(Math.max(0, 60 - title.length))}\n`);
  const { user, dir, ...monitorOptions } = options;
  const as = user ? { uid: user.uid, gid: user.gid, groups: user.groups } : {};
  const m = monitorCommand(process.execPath, args, { ...monitorOptions, ...as, cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  running.monitor = m;
  const view = new ConsoleRenderer(io.out, io.err, { colour: wantsColour(io.out), progress: false, timeout: options.timeout ?? 0 });
  m.on('ready', (info) => view.banner(info, VERSION));
  m.on('alert', (a) => view.alert(a));
  m.on('warning', (w) => view.warning(w));
  m.on('error', (e) => io.err.write(`wasmshark: error: ${escapeText(e.message)}\n`));
  const report = await m.done;
  running.monitor = null;
  view.summary(report, null);
  return report;
}

export async function runDemo(io: Io, wantBpf: boolean): Promise<number> {
  if (!fs.existsSync(STAGER_PATH)) {
    io.err.write(`wasmshark: error: the demo's prebuilt stager is missing at ${STAGER_PATH} (npm run prebuilds)\n`);
    return 1;
  }
  let bpf = wantBpf;
  if (bpf && process.getuid?.() !== 0) {
    bpf = false;
    io.err.write(
      'wasmshark: not running as root: the eBPF probes need root, so this demo watches through /proc polling.\n' +
        '           It still finds the staged W+X payload (an RWX file mapping in /proc/PID/maps) and the pool\n' +
        '           connection; run `sudo wasmshark demo` to see the kernel view: every mmap, exec and connect.\n',
    );
  }
  let user: UserIdentity | null = null;
  if (process.geteuid?.() === 0) {
    try {
      user = sudoUser() ?? resolveUser('nobody');
    } catch (err) {
      io.err.write(`wasmshark: error: the demo's samples cannot run unprivileged: ${escapeText((err as Error).message)}\n`);
      return 1;
    }
  }
  const dir = user ? copySamples() : DEMO_DIR;
  const stager = user ? path.join(dir, path.basename(STAGER_PATH)) : STAGER_PATH;
  const options: SampleOptions = { bpf, timeout: 30, user, dir };
  const running: Running = { monitor: null, interrupted: false };
  // stopped, the sample running gets its report and the next one does not start; the copies go either way
  const releaseSignals = onStopSignals(io, {
    stopping: 'ending the sample running (its report follows) and skipping the rest',
    quitting: 'at once',
    stop: () => {
      running.interrupted = true;
      void running.monitor?.stop('interrupted');
    },
  });
  let pool: net.Server | null = null;
  try {
    pool = await fakePool();
    const port = (pool.address() as net.AddressInfo).port;
    const samples: Array<[name: string, title: string, args: string[]]> = [
      ['benign WebAssembly workload', 'sample 1: benign WebAssembly workload (Node)', [path.join(dir, 'benign.js')]],
      ['WebAssembly cryptominer', `sample 2: WebAssembly cryptominer (fake pool on 127.0.0.1:${port})`, [path.join(dir, 'miner.js'), String(port), stager]],
    ];
    const verdicts: Array<[string, Report]> = [];
    for (const [name, title, args] of samples) {
      if (running.interrupted) break;
      verdicts.push([name, await runSample(io, title, args, options, running)]);
    }
    io.out.write('\n── demo verdicts ' + '─'.repeat(46) + '\n');
    for (const [name, r] of verdicts) io.out.write(`${name.padEnd(30)}: ${r.verdict} (${r.threat_score.toFixed(1)}/100)\n`);
    if (running.interrupted) io.out.write(`${'(stopped)'.padEnd(30)}: ${samples.length - verdicts.length} sample(s) not run\n`);
  } finally {
    releaseSignals();
    pool?.close();
    if (dir !== DEMO_DIR) fs.rmSync(dir, { recursive: true, force: true });
  }
  return running.interrupted ? 130 : 0;
}
