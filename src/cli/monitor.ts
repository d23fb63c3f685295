/**
 * The CLI with one target: --pid PID, or -- COMMAND launched under the
 * probes. The console view, the outputs, the report file, and the stop
 * signals (signals.ts).
 */
import { ConsoleRenderer, escapeText, wantsColour } from '../console';
import { monitor, monitorCommand, type Monitor, type MonitorInfo, type MonitorOptions } from '../monitor';
import { alertLine, eventLine, verdictLine, type LineTarget } from '../output/lines';
import { checkOutputPath, reportJson, writeReport, type Report } from '../report';
import { loadRules } from '../rules';
import { resolveUser, sudoOwner, sudoUser, type FileOwner, type UserIdentity } from '../user';
import { VERSION } from '../version';
import type { CliArgs } from './args';
import { bpfForUser, fatal, type Io } from './io';
import { openOutputs, outputLosses, type Outputs } from './outputs';
import { onStopSignals } from './signals';

/**
 * Who a launched command runs as: --user; else, as root, the user who ran
 * sudo, unless --as-root; root without sudo keeps root, with a warning; null
 * means this process's own user.
 */
function launchUser(args: CliArgs, io: Io): UserIdentity | null {
  const euid = process.geteuid?.() ?? -1;
  if (args.user !== undefined) {
    const user = resolveUser(args.user);
    if (euid === 0) return user;
    if (user.uid !== euid) throw new Error(`--user ${args.user}: running a command as another user needs root`);
    return null;
  }
  if (euid !== 0) {
    if (args.asRoot) throw new Error('--as-root: wasmshark is not running as root');
    return null;
  }
  if (args.asRoot) return null;
  const invoking = sudoUser();
  if (invoking) return invoking;
  io.err.write('wasmshark: warning: the command runs as root (not started through sudo): give --user NAME to run it unprivileged, or --as-root if root is meant\n');
  return null;
}

/** One target: --pid PID or -- COMMAND. */
export async function runMonitor(args: CliArgs, io: Io): Promise<number> {
  // with NDJSON on stdout, the human view goes to stderr
  const consoleOut = args.format === 'ndjson' ? io.err : io.out;
  const view = new ConsoleRenderer(consoleOut, io.err, {
    colour: wantsColour(consoleOut),
    progress: io.err.isTTY === true && args.format !== 'ndjson',
    timeout: args.timeout,
    output: args.output,
  });
  // exitAfter: the command exits once the report is out; nobody waits for the probes to detach
  const options: MonitorOptions = { bpf: args.bpf, timeout: args.timeout, ringBufferBytes: args.ringBuffer, syscalls: args.syscalls, exitAfter: true, symbols: args.symbols };
  let output: string | undefined;
  let owner: FileOwner | null = null;
  let outputs: Outputs;
  let m: Monitor;
  try {
    owner = sudoOwner();
    if (args.output) output = checkOutputPath(args.output, owner);
    if (args.rules) options.rules = loadRules(args.rules);
    outputs = openOutputs(args, io, (w) => view.warning(w));
    const user = args.command ? launchUser(args, io) : null;
    options.bpf = bpfForUser(io, args.bpf);
    if (args.command) {
      const as = user ? { uid: user.uid, gid: user.gid, groups: user.groups } : {};
      m = monitorCommand(args.command[0], args.command.slice(1), { ...options, ...as });
    } else {
      m = monitor(args.pid!, options);
    }
  } catch (err) {
    fatal(io, (err as Error).message);
    return 2;
  }

  let events = 0;
  let alerts = 0;
  let startedAt = Date.now();
  let target: LineTarget | null = null;
  const targetOf = (info: MonitorInfo): LineTarget => ({ pid: info.pid, runtime: info.runtime, exe: info.exe, cmdline: info.cmdline });
  m.on('ready', (info) => {
    startedAt = Date.now();
    target = targetOf(info);
    view.banner(info, VERSION);
  });
  m.on('warning', (w) => view.warning(w));
  m.on('error', (e) => {
    view.clearProgress();
    io.err.write(`wasmshark: error: ${escapeText(e.message)}\n`);
  });
  m.on('event', (e) => {
    events++;
    if (args.events && target) outputs.line(eventLine(e, target));
  });
  m.on('alert', (a) => {
    alerts++;
    view.alert(a);
    if (outputs.any && target) outputs.line(alertLine(a, target));
  });
  const ticker = setInterval(() => view.progress((Date.now() - startedAt) / 1000, events, alerts), 250);

  const releaseSignals = onStopSignals(io, {
    stopping: 'writing the report',
    quitting: 'without a report',
    beforeWrite: () => view.clearProgress(),
    stop: () => void m.stop('interrupted'),
  });

  // The report is final at 'end'; the probes finish detaching meanwhile.
  const report = await new Promise<Report>((resolve) => m.once('end', resolve));
  clearInterval(ticker);

  let written: string | null = null;
  let code = report.end_reason === 'error' ? 1 : 0;
  if (output) {
    try {
      writeReport(output, report, owner);
      written = args.output!;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      io.err.write(reportJson(report));
      code = fatal(io, `cannot write report ${args.output}: ${e.code ?? e.message}; the report is above on stderr`);
    }
  }
  view.summary(report, written);
  if (outputs.any && target) outputs.line(verdictLine(report, { ...(target as LineTarget), runtime: runtimeOfReport(report, target) }, written));
  for (const loss of outputLosses(outputs)) view.warning(loss);
  outputs.close();
  await m.done;
  releaseSignals();
  return code;
}

/** The runtime as the report has it at the end (a launch's command is known by then). */
function runtimeOfReport(report: Report, t: LineTarget): LineTarget['runtime'] {
  const r = report.target.runtime;
  return { ...t.runtime, name: r.name, engine: r.engine, version: r.version, jit: r.jit as LineTarget['runtime']['jit'] };
}
