/**
 * Output for other tools: NDJSON lines (the schema), syslog messages (RFC
 * 5424) received by a real rsyslog, and metrics scraped by a real Prometheus.
 * The receivers are Debian packages (scripts/setup.sh installs them); each
 * test starts its own, on its own socket or loopback port, with its own
 * configuration, and reads back what it received.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { Alert } from '../src/alerts';
import { alertLine, eventLine, lineJson, verdictLine, type LineTarget } from '../src/output/lines';
import { freePort } from '../src/net/port';
import { MAX_MESSAGE, syslogMessage } from '../src/output/syslog';
import type { Report } from '../src/report';
import { identifyRuntime } from '../src/runtime/identify';
import { canRunBpf, inCI, ROOT, sleep, startWaiting, trigger } from './helpers/env';

const CLI = path.join(ROOT, 'dist', 'cli.js');

/** A receiver's program: its tests run where it is installed, and always under CI (where it must be). */
function which(program: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (fs.existsSync(path.join(dir, program))) return path.join(dir, program);
  return null;
}
const RSYSLOGD = which('rsyslogd');
const PROMETHEUS = which('prometheus');
const describeWith = (program: string | null) => (canRunBpf && (program !== null || inCI) ? describe : describe.skip);

async function until<T>(what: string, get: () => T | null | undefined | Promise<T | null | undefined>, ms = 60000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function cli(args: string[]) {
  const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { p, stdout: '', stderr: '' };
  p.stdout.on('data', (d) => (run.stdout += d));
  p.stderr.on('data', (d) => (run.stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
  return { run, exited };
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', () => resolve({ status: 0, body: '' }));
  });
}


let tmp: string;
const cleanup: Array<() => void> = [];
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-outputs-'));
});
afterAll(() => {
  for (const f of cleanup.reverse()) f();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

const target: LineTarget = { pid: 4242, runtime: identifyRuntime('/usr/bin/node'), exe: '/usr/bin/node', cmdline: ['node', 'app.js'] };
const alert: Alert = {
  rule: 'process.shell', key: 'k', level: 'CRITICAL', category: 'PROCESS', title: 'Shell spawned: sh',
  description: 'a command interpreter was started', evidence: 'argv=/bin/sh -c id image=/bin/sh pid=4250 ppid=4242', pid: 4250,
  count: 1, firstSeen: Date.UTC(2026, 0, 2, 3, 4, 5, 678), lastSeen: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
};

describe('the line schema', () => {
  it('an alert: the runtime it is about at the top, what is particular under fields', () => {
    const line = JSON.parse(lineJson(alertLine(alert, target)));
    expect(line).toEqual({
      schema_version: 1, type: 'alert', time: '2026-01-02T03:04:05.678Z', hostname: os.hostname(), tool: 'wasmshark',
      pid: 4242, runtime: 'node',
      output: 'CRITICAL PROCESS process.shell node[4242]: Shell spawned: sh (argv=/bin/sh -c id image=/bin/sh pid=4250 ppid=4242)',
      rule: 'process.shell', level: 'CRITICAL', category: 'PROCESS', title: 'Shell spawned: sh', evidence: alert.evidence,
      fields: {
        process: { pid: 4250 },
        description: 'a command interpreter was started',
        runtime: { name: 'node', version: target.runtime.version, engine: 'V8', embedder: null },
        target: { exe: '/usr/bin/node', cmdline: ['node', 'app.js'] },
      },
    });
  });

  it('an event: kernel time on the wall clock, its fields made JSON (no bigint), long text cut', () => {
    const now = process.hrtime.bigint();
    const line = JSON.parse(
      lineJson(
        eventLine(
          { kind: 'exec', pid: 4250, tid: 4250, ppid: 4242, uid: 0, comm: 'sh', timeNs: now, ip: 0, syscall: 'execve', filename: '/bin/sh', argv: ['sh', 'x'.repeat(5000)],
            argc: 2, image: '/bin/sh', dfd: -100, atFlags: 0, entrySeen: true, ok: true, result: 0 },
          target,
        ),
      ),
    );
    expect(Math.abs(Date.parse(line.time) - Date.now())).toBeLessThan(5000);
    expect(line).toMatchObject({ type: 'event', kind: 'exec', pid: 4242, runtime: 'node', fields: { pid: 4250, image: '/bin/sh', ok: true } });
    expect(line.fields.timeNs).toBeUndefined();
    expect(line.fields.argv[1].length).toBeLessThan(300);
  });

  it('a verdict: the report in one line, with where it was written', () => {
    const report = { verdict: 'SUSPICIOUS', threat_score: 60, end_reason: 'target-exit', duration: 1.5, ended_at: '2026-01-02T03:04:06.000Z',
      alerts: [{ level: 'CRITICAL' }, { level: 'HIGH' }, { level: 'HIGH' }] } as unknown as Report;
    expect(JSON.parse(lineJson(verdictLine(report, target, '/var/lib/wasmshark/4242-1.json')))).toMatchObject({
      type: 'verdict', time: '2026-01-02T03:04:06.000Z', pid: 4242, runtime: 'node', verdict: 'SUSPICIOUS', threat_score: 60,
      output: 'node[4242] SUSPICIOUS 60.0/100, 3 alerts (target-exit)',
      fields: { end_reason: 'target-exit', alerts: { CRITICAL: 1, HIGH: 2, MEDIUM: 0 }, report: '/var/lib/wasmshark/4242-1.json' },
    });
  });

  it('text from the target cannot reach a terminal raw, nor break the line', () => {
    const hostile = { ...alert, title: 'x\x1b]0;owned\x07\u202e\u2028\ud800', evidence: 'a\nb\u009b2J' };
    const text = lineJson(alertLine(hostile, target));
    expect(text).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u202e]/);
    expect(text).not.toContain('\n');
    expect(JSON.parse(text).title).toBe('x\x1b]0;owned\x07\u202e\u2028\ufffd');
  });
});

describe('RFC 5424 messages', () => {
  it('header, then the line as ASCII JSON; severity from the level, facility daemon', () => {
    const msg = syslogMessage(alertLine({ ...alert, title: 'Shell spawned: ш' }, target), 77);
    expect(msg).toMatch(/^<26>1 2026-01-02T03:04:05\.678Z \S+ wasmshark 77 alert - \{"schema_version":1,/);
    expect(msg).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(msg.slice(msg.indexOf('{'))).title).toBe('Shell spawned: ш');
    expect(syslogMessage(alertLine({ ...alert, level: 'MEDIUM' }, target))).toMatch(/^<28>1 /);
    expect(syslogMessage(alertLine({ ...alert, level: 'INFO' }, target))).toMatch(/^<30>1 /);
  });

  it('a line too long for a syslog daemon is cut where it is long, and stays JSON', () => {
    const big = { ...alert, evidence: 'e'.repeat(1024), description: 'ж'.repeat(1024), title: 't'.repeat(1024) };
    const long = alertLine(big, { ...target, cmdline: new Array(16).fill('a'.repeat(256)) });
    const msg = syslogMessage(long);
    expect(msg.length).toBeLessThanOrEqual(MAX_MESSAGE);
    const parsed = JSON.parse(msg.slice(msg.indexOf('{')));
    expect(parsed).toMatchObject({ type: 'alert', rule: 'process.shell', pid: 4242 });
    expect(parsed.fields.description).toMatch(/…\[cut\]$/);
  });
});

// ---------------------------------------------------------------------------

(canRunBpf ? describe : describe.skip)('--format ndjson, one target', () => {
  it('stdout carries only lines: the alert, every event with --events, the verdict last; the console is on stderr', async () => {
    const out = path.join(tmp, 'one.json');
    const { run, exited } = cli(['--format', 'ndjson', '--events', '--bpf', '--output', out, '--', trigger(), 'wx', '1']);
    expect(await exited).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const l of lines) expect(l).toMatchObject({ schema_version: 1, pid: report.pid, runtime: 'unknown' });
    const wx = lines.find((l) => l.type === 'alert');
    expect(wx).toMatchObject({ rule: 'memory.wx-mmap', level: 'CRITICAL', category: 'MEMORY', title: 'W+X mmap() via eBPF tracepoint' });
    expect(lines.find((l) => l.type === 'event' && l.kind === 'mmap' && l.fields.prot === 7)).toBeDefined();
    expect(lines.filter((l) => l.type === 'event')).toHaveLength(report.events.total);
    expect(lines[lines.length - 1]).toMatchObject({ type: 'verdict', verdict: 'MALICIOUS', fields: { report: out } });
    expect(run.stderr).toContain('Verdict        : MALICIOUS');
    expect(run.stderr).toContain('[CRITICAL] MEMORY  W+X mmap() via eBPF tracepoint');
  });
});

describeWith(RSYSLOGD)('--syslog to a real rsyslog', () => {
  let rsyslog: ChildProcess;
  let socket: string;
  let received: string;

  beforeAll(async () => {
    const dir = path.join(tmp, 'rsyslog');
    fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
    socket = path.join(dir, 'log.sock');
    received = path.join(dir, 'received.log');
    // its own socket, not /dev/log; the RFC 5424 parser on it (rsyslog's special parser expects the BSD format)
    fs.writeFileSync(
      path.join(dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${dir}/work")`,
        'module(load="imuxsock" SysSock.Use="off")',
        `input(type="imuxsock" Socket="${socket}" UseSpecialParser="off" ParseHostname="on")`,
        'template(name="fields" type="list") {',
        '  property(name="pri") constant(value="|") property(name="app-name") constant(value="|") property(name="procid")',
        '  constant(value="|") property(name="msgid") constant(value="|") property(name="hostname") constant(value="|")',
        '  property(name="msg" droplastlf="on") constant(value="\\n")',
        '}',
        `*.* action(type="omfile" file="${received}" template="fields")`,
      ].join('\n'),
    );
    rsyslog = spawn(RSYSLOGD ?? 'rsyslogd', ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'pid')], { stdio: 'ignore' });
    cleanup.push(() => rsyslog.kill('SIGKILL'));
    await until('rsyslog listening', () => fs.existsSync(socket));
  });

  afterAll(() => rsyslog?.kill('SIGTERM'));

  it('receives the watch\'s alerts and verdicts as RFC 5424 messages with the runtime, pid and rule', async () => {
    const target = startWaiting(['wx', '2']);
    cleanup.push(() => target.child.kill('SIGKILL'));
    const watcher = cli(['watch', '--pid', String(target.pid), '--syslog', '--syslog-socket', socket]);
    await until('the banner', () => /New runtimes/.test(watcher.run.stdout));
    await target.go();
    const messages = await until('the verdict in syslog', () => {
      const text = fs.existsSync(received) ? fs.readFileSync(received, 'utf8') : '';
      const parsed = text.split('\n').filter((l) => l.includes('|wasmshark|')).map((l) => {
        const [pri, app, procid, msgid, host, ...msg] = l.split('|');
        return { pri: Number(pri), app, procid: Number(procid), msgid, host, json: JSON.parse(msg.join('|')) };
      });
      return parsed.some((m) => m.msgid === 'verdict') ? parsed : null;
    });
    watcher.run.p.kill('SIGTERM');
    expect(await watcher.exited).toBe(0);

    for (const m of messages) {
      expect(m).toMatchObject({ app: 'wasmshark', procid: watcher.run.p.pid, host: os.hostname() });
      expect(m.json).toMatchObject({ schema_version: 1, pid: target.pid, type: m.msgid });
    }
    // daemon.crit for a CRITICAL alert and for a MALICIOUS verdict; daemon.info when the runtime was found
    expect(messages.map((m) => [m.msgid, m.pri])).toEqual([['runtime', 30], ['alert', 26], ['verdict', 26]]);
    expect(messages[1].json).toMatchObject({ rule: 'memory.wx-mmap', level: 'CRITICAL', title: 'W+X mmap() via eBPF tracepoint' });
    expect(messages[2].json).toMatchObject({ verdict: 'MALICIOUS' });
  }, 120000);
});

describeWith(PROMETHEUS)('--metrics scraped by a real Prometheus', () => {
  it('serves the watch\'s series with bounded labels: Prometheus scrapes them and answers queries on them', async () => {
    const target = startWaiting(['wx', '3']);
    cleanup.push(() => target.child.kill('SIGKILL'));
    const watcher = cli(['watch', '--pid', String(target.pid), '--metrics', '127.0.0.1:0']);
    cleanup.push(() => watcher.run.p.kill('SIGKILL'));
    const url = await until('the metrics address', () => /Metrics\s+: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(watcher.run.stdout)?.[1]);
    expect((await httpGet(url.replace('/metrics', '/other'))).status).toBe(404);

    const dir = path.join(tmp, 'prometheus');
    fs.mkdirSync(dir);
    const webPort = await freePort();
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: wasmshark', '    static_configs:', `      - targets: ['${new URL(url).host}']`].join('\n'),
    );
    const prometheus = spawn(
      PROMETHEUS ?? 'prometheus',
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`],
      { stdio: 'ignore' },
    );
    cleanup.push(() => prometheus.kill('SIGKILL'));
    const api = `http://127.0.0.1:${webPort}/api/v1`;
    const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
      const r = await httpGet(`${api}/query?query=${encodeURIComponent(q)}`);
      return r.status === 200 ? JSON.parse(r.body).data.result : [];
    };
    const value = async (q: string) => {
      const [first] = await query(q);
      return first ? Number(first.value[1]) : null;
    };

    await until('Prometheus scraping the watch', async () => (await value('up{job="wasmshark"}')) === 1);
    await target.go();
    // the process ran, was judged, and its verdict reached the counters; Prometheus has it on its next scrape
    await until('the verdict in Prometheus', async () => (await value('wasmshark_verdicts_total{verdict="MALICIOUS"}')) === 1);
    expect(await value('wasmshark_alerts_total{level="CRITICAL"}')).toBe(1);
    expect(await value('wasmshark_events_total{kind="mmap"}')).toBeGreaterThanOrEqual(3);
    expect(await value('wasmshark_runtimes_found_total{found_by="pid"}')).toBe(1);
    expect(await value('wasmshark_runtimes_followed{runtime="unknown"}')).toBe(0);
    expect(await value('wasmshark_events_dropped_total{kind="mmap"}')).toBe(0);
    expect(await value('wasmshark_ring_buffer_size_bytes')).toBe(8 << 20);
    // what waits in the ring buffer when scraped: read from the kernel's positions (test/35 fills it)
    const used = await value('wasmshark_ring_buffer_used_bytes');
    expect(used).not.toBeNull();
    expect(used!).toBeGreaterThanOrEqual(0);
    expect(used!).toBeLessThanOrEqual(8 << 20);
    expect(await value('wasmshark_info{mode="bpf",exec_source="kernel"}')).toBe(1);
    expect(await value('process_resident_memory_bytes{job="wasmshark"}')).toBeGreaterThan(0);

    // labels from bounded sets only: never a pid, a path or a command line
    const series = JSON.parse((await httpGet(`${api}/series?match[]=${encodeURIComponent('{job="wasmshark"}')}`)).body).data as Array<Record<string, string>>;
    const names = new Set(series.flatMap((s) => Object.keys(s)));
    expect([...names].sort()).toEqual(['__name__', 'exec_source', 'found_by', 'instance', 'job', 'kind', 'level', 'limit', 'mode', 'runtime', 'verdict', 'version']);

    watcher.run.p.kill('SIGTERM');
    expect(await watcher.exited).toBe(0);
    prometheus.kill('SIGTERM');
  }, 120000);
});
