/**
 * The watch's counters in Prometheus's text format, over HTTP (GET /metrics).
 * Names follow Prometheus's conventions (`_total` counters, base units) and
 * every label has a bounded set of values: event kinds, levels, verdicts,
 * runtime names, limits. Never a pid or a path: a host with churning
 * processes would otherwise mint a new series for each one.
 *
 * Values are read from the watch when scraped, so counting an event costs the
 * watch an integer increment, not a metrics-library call per event.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { Counter, Gauge, Registry } from 'prom-client';
import { LEVELS } from '../alerts';
import { KNOWN_RUNTIMES } from '../runtime/identify';
import type { Verdict } from '../score';
import { VERSION } from '../version';
import type { WatchStats } from '../watch';
import type { LineSink } from './ndjson';

const VERDICTS: Verdict[] = ['MALICIOUS', 'SUSPICIOUS', 'POTENTIALLY_UNWANTED', 'CLEAN'];
/** Runtime label values: the known runtimes, and what a process given by --pid may be besides. */
const RUNTIME_LABELS = [...KNOWN_RUNTIMES, 'go', 'unknown'];

export interface MetricsOutputs {
  ndjson?: LineSink;
  syslog?: LineSink;
}

type CollectOf<T> = (metric: T) => void;

/**
 * A registry whose metrics read the watch's counters (and the line outputs)
 * at each scrape; `stats` gives null until the watch exists.
 */
export function watchRegistry(stats: () => WatchStats | null, outputs: MetricsOutputs = {}): Registry {
  const registry = new Registry();
  const counter = <L extends string>(name: string, help: string, labelNames: L[], collect: CollectOf<Counter<L>>) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset(); // then set to the watch's own running total
        if (snapshot) collect(this);
      },
    });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], collect: CollectOf<Gauge<L>>) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        if (snapshot) collect(this);
      },
    });

  let snapshot: WatchStats | null = null;
  const s = () => snapshot!;
  // one snapshot per scrape, taken as the first metric is collected
  new Gauge({
    name: 'wasmshark_info',
    help: 'wasmshark build and how it watches (always 1)',
    labelNames: ['version', 'mode', 'exec_source'],
    registers: [registry],
    collect() {
      this.reset();
      snapshot = stats();
      if (snapshot) this.set({ version: VERSION, mode: snapshot.bpf ? 'bpf' : 'proc', exec_source: snapshot.execSource }, 1);
    },
  });
  gauge('wasmshark_runtimes_followed', 'Runtimes followed now, by runtime', ['runtime'], (g) => {
    for (const r of RUNTIME_LABELS) g.set({ runtime: r }, s().runtimes.followed[r] ?? 0);
  });
  counter('wasmshark_runtimes_found_total', 'Runtimes found, by runtime and how (scan at start, exec, rescan, pid, library)', ['runtime', 'found_by'], (c) => {
    for (const [key, n] of Object.entries(s().runtimes.found)) {
      const [runtime, foundBy] = key.split(' ');
      c.inc({ runtime: RUNTIME_LABELS.includes(runtime) ? runtime : 'unknown', found_by: foundBy }, n);
    }
  });
  gauge('wasmshark_processes_followed', 'Processes events are attributed to now: runtimes and their descendants', [], (g) => g.set(s().processes));
  counter('wasmshark_events_total', 'Events judged, by kind', ['kind'], (c) => {
    for (const [kind, n] of Object.entries(s().events.byKind)) c.inc({ kind }, n);
  });
  counter('wasmshark_events_unattributed_total', 'Events of followed processes no runtime could be found for', [], (c) => c.inc(s().events.unattributed));
  counter('wasmshark_events_dropped_total', 'Events the kernel could not deliver (ring buffer full), by kind; stash and userspace losses too', ['kind'], (c) => {
    const d = s().drops;
    if (!d) return;
    for (const [kind, n] of Object.entries(d.byKind)) c.inc({ kind }, n);
    c.inc({ kind: 'stash' }, d.stash);
    c.inc({ kind: 'userspace' }, d.userspace);
  });
  counter('wasmshark_alerts_total', 'Alerts raised, by level', ['level'], (c) => {
    for (const level of LEVELS) c.inc({ level }, s().alerts[level]);
  });
  counter('wasmshark_verdicts_total', 'Runtimes judged (reports made), by verdict', ['verdict'], (c) => {
    for (const verdict of VERDICTS) c.inc({ verdict }, s().verdicts[verdict]);
  });
  counter('wasmshark_reports_written_total', 'Reports written to the output directory', [], (c) => c.inc(s().reports.written));
  counter('wasmshark_report_errors_total', 'Reports that could not be written', [], (c) => c.inc(s().reports.failed));
  gauge('wasmshark_reports_pending', 'Reports waiting to be written', [], (g) => g.set(s().reports.pending));
  counter('wasmshark_capped_total', 'Things not kept, followed or written because a limit was reached, by limit', ['limit'], (c) => {
    for (const [limit, n] of Object.entries(s().capped)) c.inc({ limit }, n);
  });
  gauge('wasmshark_ring_buffer_size_bytes', 'Size of the kernel ring buffer', [], (g) => g.set(s().ringBuffer.sizeBytes ?? 0));
  counter('wasmshark_ring_buffer_records_total', 'Records taken from the kernel ring buffer', [], (c) => c.inc(s().ringBuffer.records));
  gauge('wasmshark_ring_buffer_used_bytes', 'Bytes waiting in the kernel ring buffer when scraped (where the probes can tell)', [], (g) => {
    if (s().ringBuffer.usedBytes !== null) g.set(s().ringBuffer.usedBytes!);
  });
  counter('wasmshark_output_lines_total', 'Lines handed to an output, by output', ['output'], (c) => {
    for (const [output, sink] of Object.entries(outputs)) if (sink) c.inc({ output }, sink.sent);
  });
  counter('wasmshark_output_dropped_total', 'Lines an output could not take (stalled reader, syslog queue full), by output', ['output'], (c) => {
    for (const [output, sink] of Object.entries(outputs)) if (sink) c.inc({ output }, sink.dropped);
  });
  // The process's own, under the names every Prometheus user knows (prom-client's full default set samples the event loop continuously).
  counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds', [], (c) => {
    const u = process.cpuUsage();
    c.inc((u.user + u.system) / 1e6);
  });
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes', [], (g) => g.set(process.memoryUsage.rss()));
  gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes', [], (g) => g.set(process.memoryUsage().heapUsed));
  return registry;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the registry on http://host:port/metrics (port 0: any free one; `url` says which). */
export function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  // a scraper that connects and says nothing must not hold a socket forever
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot serve metrics on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message}`)),
    );
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${shown}:${a.port}/metrics`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
