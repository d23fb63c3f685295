/**
 * `wasmshark watch`: the watch as a service. Console lines as runtimes come
 * and go (stderr with --format ndjson), NDJSON / syslog lines, Prometheus
 * metrics, a report per runtime in --output-dir; until SIGINT or SIGTERM.
 */
import { ConsoleRenderer, escapeText, wantsColour } from '../console';
import { alertLine, eventLine, runtimeLine, verdictLine, type LineTarget } from '../output/lines';
import { serveMetrics, watchRegistry, type MetricsServer } from '../output/metrics';
import { loadRules } from '../rules';
import { sudoOwner } from '../user';
import { VERSION } from '../version';
import { watch, type Watch, type WatchOptions, type WatchStats, type WatchedRuntime } from '../watch';
import type { CliArgs } from './args';
import { bpfForUser, fatal, type Io } from './io';
import { openOutputs, outputLosses, type Outputs } from './outputs';
import { onStopSignals } from './signals';

const target = (rt: WatchedRuntime): LineTarget => ({ pid: rt.pid, runtime: rt.runtime, exe: rt.exe, cmdline: rt.cmdline });

export async function runWatch(args: CliArgs, io: Io): Promise<number> {
  const consoleOut = args.format === 'ndjson' ? io.err : io.out;
  const view = new ConsoleRenderer(consoleOut, io.err, { colour: wantsColour(consoleOut), progress: false, timeout: args.timeout });
  const options: WatchOptions = {
    bpf: bpfForUser(io, args.bpf),
    symbols: args.symbols,
    syscalls: args.syscalls,
    ringBufferBytes: args.ringBuffer,
    runtimes: args.runtimes,
    pids: args.pids,
    timeout: args.timeout,
    outputDir: args.outputDir,
    exitAfter: true, // the command exits once the reports are out: nobody waits for the probes to detach
  };
  let outputs: Outputs;
  let w: Watch | null = null;
  let metrics: MetricsServer | null = null;
  try {
    if (args.rules) options.rules = loadRules(args.rules);
    options.reportOwner = sudoOwner();
    outputs = openOutputs(args, io, (m) => view.warning(m));
    // listening before the watch starts: an address in use fails before anything is followed
    if (args.metrics) {
      const registry = watchRegistry(() => w?.stats() ?? null, { ndjson: outputs.ndjson, syslog: outputs.syslog });
      metrics = await serveMetrics(registry, args.metrics.host, args.metrics.port);
    }
    w = watch(options);
  } catch (err) {
    await metrics?.close();
    fatal(io, (err as Error).message);
    return 2;
  }

  let failedReports = 0;
  const startedAt = Date.now();
  // What the scan at start finds comes before 'ready': shown after the banner.
  let beforeReady: Array<() => void> | null = [];
  const show = (f: () => void) => (beforeReady ? beforeReady.push(f) : f());
  w.on('ready', (info) => {
    view.watchBanner(info, VERSION, metrics?.url ?? null);
    for (const f of beforeReady ?? []) f();
    beforeReady = null;
  });
  w.on('warning', (m) => view.warning(m));
  w.on('error', (e) => {
    if (e.message.startsWith('cannot write report')) failedReports++;
    io.err.write(`wasmshark: error: ${escapeText(e.message)}\n`);
  });
  w.on('runtime', (rt) => {
    show(() => view.runtimeFound(rt));
    if (outputs.any) outputs.line(runtimeLine(target(rt), rt.foundBy, rt.id));
  });
  w.on('alert', (a, rt) => {
    show(() => view.alert(a, `${rt.runtime.name}[${rt.pid}]`));
    if (outputs.any) outputs.line(alertLine(a, target(rt)));
  });
  if (args.events && outputs.any) w.on('event', (e, rt) => outputs.line(eventLine(e, target(rt))));
  w.on('report', (report, rt, file) => {
    show(() => view.runtimeEnded(report, rt, file));
    if (outputs.any) outputs.line(verdictLine(report, target(rt), file));
  });

  const releaseSignals = onStopSignals(io, {
    stopping: 'writing a report for each runtime still followed',
    quitting: 'without the remaining reports',
    stop: () => void w.stop('interrupted'),
  });

  const stats = await new Promise<WatchStats>((resolve) => w.once('end', resolve));
  view.watchSummary(stats, (Date.now() - startedAt) / 1000);
  for (const loss of outputLosses(outputs)) view.warning(loss);
  await metrics?.close();
  outputs.close();
  await w.done;
  releaseSignals();
  return stats.reason === 'error' || failedReports > 0 ? 1 : 0;
}
