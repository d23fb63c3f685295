/**
 * Runs one scenario under the monitor (built dist/), and judges the same
 * events a second time with runtime awareness off ("naive": every W+X or
 * EXEC change judged as if no runtime made it), for the comparison table.
 * runCli runs a scenario through the CLI instead, as an analyst would.
 */
'use strict';
const { execFile, spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const ws = require(path.join(ROOT, 'dist', 'index.js'));
const { Assessment } = require(path.join(ROOT, 'dist', 'assessment.js'));
const { RuleSet } = require(path.join(ROOT, 'dist', 'rules', 'index.js'));
const { freePort } = require(path.join(ROOT, 'dist', 'net', 'port.js'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


/** A fake Stratum pool on the first free mining port: answers one subscribe and hangs up. */
async function stratumPool() {
  for (const port of [3333, 4444, 5555, 7777, 14444, 45700]) {
    const server = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.once('data', () => sock.end('{"id":1,"result":[[],"08000002",4],"error":null}\n'));
    });
    const ok = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return server;
  }
  throw new Error('no Stratum port free for the fake pool');
}

function get(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function waitServing(port, ms = 10000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await get(port)) === 200) return true;
    await sleep(100);
  }
  return false;
}

function workerdConfig(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-workerd-'));
  const src = path.join(__dirname, 'workloads');
  for (const f of ['worker.js', 'sum.wasm']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const config = fs.readFileSync(path.join(src, 'workerd.capnp'), 'utf8').replace(/WORKERD_PORT/g, String(port));
  fs.writeFileSync(path.join(dir, 'workerd.capnp'), config);
  return { dir, file: path.join(dir, 'workerd.capnp') };
}

/** Judges recorded events with runtime awareness off. */
function naiveJudgement(events, rootPid, launched) {
  const rules = new RuleSet(ws.DEFAULT_RULES);
  const assessment = new Assessment();
  const memfd = new Map();
  let launchSeen = !launched;
  const ctx = {
    procChildren: false,
    isLaunchExec: (e) => {
      if (launchSeen || e.pid !== rootPid) return false;
      launchSeen = true;
      return true;
    },
    memfdName: (pid, fd) => memfd.get(`${pid}:${fd}`),
    runtime: () => null,
    callSite: () => ({ kind: 'unknown', path: '', address: 0 }),
    kernelSawRegion: (pid, start, end) => assessment.kernelSawRegion(pid, start, end),
    mappedElf: () => null,
    commandLine: () => [],
  };
  for (const e of events) {
    if (e.kind === 'memfd' && e.ok) memfd.set(`${e.pid}:${e.result}`, e.name);
    if (e.kind === 'connection') continue; // outbound connections are judged alike either way
    for (const f of rules.evaluate(e, ctx)) assessment.add(f, e.length ?? 0);
  }
  const score = assessment.score();
  return { score, verdict: ws.verdict(score), alerts: assessment.alerts().map((a) => a.rule) };
}

/** Listens on ADDRESS:PORT if it is free, so that a connection there is established; null if taken. */
async function listener(address, port) {
  const server = net.createServer((sock) => sock.destroy());
  const ok = await new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, address, () => resolve(true));
  });
  return ok ? server : null;
}

/** What a scenario needs around it (a fake pool, a listener, a credential file, a workerd config): its command, and how to undo it. */
async function prepare(s, cleanup) {
  let command = [...s.command];
  let port = 0;
  if (s.pool) {
    const pool = await stratumPool();
    cleanup.push(() => pool.close());
    command = command.map((a) => (a === '$POOL_PORT' ? String(pool.address().port) : a));
  }
  if (s.listen) {
    const server = await listener(...s.listen);
    if (server) cleanup.push(() => server.close());
  }
  if (s.secret) {
    // a credential file where a user keeps one: ~/.aws/credentials under a home of its own
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-home-'));
    cleanup.push(() => fs.rmSync(home, { recursive: true, force: true }));
    fs.mkdirSync(path.join(home, '.aws'));
    const file = path.join(home, '.aws', 'credentials');
    fs.writeFileSync(file, '[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\n', { mode: 0o600 });
    command = command.map((a) => (a === '$SECRET' ? file : a));
  }
  if (s.workerd) {
    port = await freePort();
    const cfg = workerdConfig(port);
    cleanup.push(() => fs.rmSync(cfg.dir, { recursive: true, force: true }));
    command = command.map((a) => (a === '$CONFIG' ? cfg.file : a));
  }
  return { command, port, env: { ...process.env, ...s.env } };
}

/** Starts the scenario's program unmonitored and waits `attachAfterMs`; it is killed on cleanup. */
async function startUnmonitored(s, command, env, port, cleanup) {
  const child = spawn(command[0], command.slice(1), { stdio: 'ignore', env });
  cleanup.push(() => child.kill('SIGKILL'));
  if (s.workerd) await waitServing(port); // warm-up: its first request is served unmonitored
  await sleep(s.attachAfterMs);
  return child.pid;
}

async function runScenario(s, { timeout = s.timeout ?? 30 } = {}) {
  const cleanup = [];
  try {
    const { command, port, env } = await prepare(s, cleanup);
    const events = [];
    let m;
    if (s.attachAfterMs) {
      m = ws.monitor(await startUnmonitored(s, command, env, port, cleanup), { timeout });
    } else {
      m = ws.monitorCommand(command[0], command.slice(1), { stdio: 'ignore', timeout, env });
    }
    m.on('event', (e) => events.push(e));
    m.on('error', () => {});
    m.on('warning', () => {});
    const info = await new Promise((resolve) => m.once('ready', resolve));
    if (s.workerd) {
      // serve a few requests, each running the WASM module, then shut down
      await waitServing(port);
      for (let i = 0; i < 3; i++) await get(port);
      process.kill(info.pid, 'SIGTERM');
    }
    const report = await m.done;
    return { report, naive: naiveJudgement(events, report.pid, report.target.launched) };
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}

/**
 * Runs an attached scenario through the CLI: `wasmshark --pid N --bpf
 * --timeout T --output FILE`. Resolves with the exit code, the console
 * output and the report.
 */
async function runCli(s, { timeout = s.timeout ?? 30 } = {}) {
  if (!s.attachAfterMs) throw new Error(`${s.name}: the CLI rows attach to a running process`);
  const cleanup = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-verdicts-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    const { command, port, env } = await prepare(s, cleanup);
    const pid = await startUnmonitored(s, command, env, port, cleanup);
    const output = path.join(dir, 'r.json');
    const args = [path.join(ROOT, 'dist', 'cli.js'), '--pid', String(pid), '--bpf', '--timeout', String(timeout), '--output', output];
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, args, { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    const report = fs.existsSync(output) ? JSON.parse(fs.readFileSync(output, 'utf8')) : null;
    return { code, stdout, stderr, report };
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}

/** Precision and recall of "flagged" (MALICIOUS or SUSPICIOUS) against the labels. */
function metrics(rows, pick) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const r of rows) {
    const flagged = ['MALICIOUS', 'SUSPICIOUS'].includes(pick(r));
    if (r.label === 'malicious') flagged ? tp++ : fn++;
    else flagged ? fp++ : tn++;
  }
  return { tp, fp, fn, tn, precision: tp + fp ? tp / (tp + fp) : 1, recall: tp + fn ? tp / (tp + fn) : 1 };
}

module.exports = { runScenario, runCli, metrics, naiveJudgement };
