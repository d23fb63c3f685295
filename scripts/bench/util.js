/*
 * What every section uses: paths, medians and quantiles, /proc readings, and
 * the processes the bench starts (Proc), all killed if the bench is stopped.
 */
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const ROOT = path.resolve(__dirname, '..', '..');
/** Sources of the load generators, the floor programs' loader, the agent and the runtimes' workloads. */
const WORKLOADS = path.join(__dirname, 'workloads');
const AGENT = path.join(WORKLOADS, 'agent.js');
const OBJECT = path.join(ROOT, 'bpf', 'wasmshark.bpf.o');
const WORKERD = path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd');

/** What the machine lacks for a run: said in one line, not with a stack. */
class SetupError extends Error {}

const now = () => process.hrtime.bigint();
const msSince = (t) => Number(now() - t) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

function firstLine(cmd, args) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().split('\n')[0].trim();
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function cpuJiffies() {
  const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** utime+stime (ms) and peak RSS (MB) of a running process. */
function procUsage(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return { cpuMs: ticks * 10, maxRssMb: hwm ? Math.round(Number(hwm[1]) / 1024) : null };
  } catch {
    return { cpuMs: null, maxRssMb: null };
  }
}

/** Resolves once pid is blocked in read(2): a --wait gate waiting for its go line. */
async function parkedInRead(pid, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (fs.readFileSync(`/proc/${pid}/syscall`, 'latin1').startsWith('0 ')) return;
    } catch {
      return;
    }
    await sleep(1);
  }
  throw new Error(`process ${pid} did not block on its go line`);
}

// ---- processes the bench starts ----

const live = new Set();

/** A child process with line-wise stdout, a way to wait for a line, and its exit. */
class Proc {
  constructor(cmd, args, { onLine, stdin = 'pipe' } = {}) {
    this.name = path.basename(cmd) + (args[0] && !args[0].startsWith('-') ? ` ${path.basename(args[0])}` : '');
    this.started = now();
    this.child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.lines = [];
    this.stderr = '';
    this.waiters = [];
    this.exitInfo = null;
    live.add(this);
    this.child.stdin?.on('error', () => {}); // a job that has exited may not read its go line
    this.child.stderr.on('data', (d) => {
      if (this.stderr.length < 65536) this.stderr += d;
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (onLine && onLine(line)) return;
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.re.test(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve({ line, ms: msSince(this.started) });
        }
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, ms: msSince(this.started) };
        live.delete(this);
        for (const w of this.waiters) w.reject(new Error(`${this.name} exited (${code ?? signal}) before printing ${w.re}: ${this.stderr.trim().slice(-500)}`));
        this.waiters = [];
        // stdout may still hold lines: let readline finish before anyone reads them
        setImmediate(() => resolve(this.exitInfo));
      });
    });
  }

  /** The first line matching re (already printed, or to come), and when it came. */
  waitLine(re, timeoutMs = 20000) {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve({ line: seen, ms: null });
    if (this.exitInfo) return Promise.reject(new Error(`${this.name} exited before printing ${re}: ${this.stderr.trim().slice(-500)}`));
    return new Promise((resolve, reject) => {
      const w = { re, resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`${this.name} printed no ${re} within ${timeoutMs} ms: ${this.stderr.trim().slice(-500)}`));
        }
      }, timeoutMs).unref();
    });
  }

  send(text) {
    this.child.stdin.write(text);
  }

  /** Ends the job: closes stdin, or sends a signal; resolves at its exit. */
  async stop(signal) {
    const timers = [];
    if (!this.exitInfo) {
      if (signal) {
        this.child.kill(signal);
        // bpftrace 0.17 now and then ignores a SIGINT that comes right after its BEGIN output: say it again
        timers.push(setInterval(() => this.child.kill(signal), 250));
      } else {
        this.child.stdin?.end();
      }
    }
    timers.push(setTimeout(() => this.child.kill('SIGKILL'), 30000));
    const info = await this.exited;
    for (const t of timers) clearTimeout(t);
    return info;
  }

  /** The JSON after `tag ` on the job's output. */
  json(tag) {
    const line = this.lines.find((l) => l.startsWith(`${tag} `));
    if (!line) throw new Error(`${this.name} printed no ${tag} line: ${this.stderr.trim().slice(-500)}`);
    return JSON.parse(line.slice(tag.length + 1));
  }
}

/** An idle process to follow, killed with everything else if the bench is interrupted. */
function idleProcess() {
  const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
  const entry = { child };
  live.add(entry);
  child.once('exit', () => live.delete(entry));
  return child;
}

function killAll() {
  for (const p of live) p.child.kill('SIGKILL');
}

module.exports = {
  ROOT, WORKLOADS, AGENT, OBJECT, WORKERD, SetupError,
  now, msSince, sleep, quantile, median, which, firstLine, cpuJiffies, procUsage, parkedInRead,
  live, Proc, idleProcess, killAll,
};
