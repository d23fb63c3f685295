#!/usr/bin/env node
/**
 * wasmshark --pid PID [--bpf | --no-bpf] [--timeout SECS] [--output FILE] [--rules FILE]
 * wasmshark [options] [--user NAME|UID | --as-root] -- COMMAND [ARGS...]
 *
 * Exit status: 0 when monitoring completed (whatever the verdict), 1 when it
 * could not run or the report could not be written, 2 for bad usage.
 */
import { ConsoleRenderer, escapeText, wantsColour } from './console';
import { runDemo } from './demo';
import { monitor, monitorCommand, type Monitor, type MonitorOptions } from './monitor';
import { checkOutputPath, reportJson, writeReport, type Report } from './report';
import { loadRules } from './rules';
import { BPF_OBJECT_PATH, loadAddon } from './native';
import { resolveUser, sudoOwner, sudoUser, type FileOwner, type UserIdentity } from './user';
import { VERSION } from './version';

export const USAGE = `Usage: wasmshark --pid PID [options]
       wasmshark [options] -- COMMAND [ARGS...]
       wasmshark demo [--no-bpf]

Watch a WebAssembly runtime (wasmtime, Node/V8, workerd, Bun, wasmer, ...) from
the kernel and report what it does: W+X memory, memory made executable, child
processes, outbound connections, exposed credentials. Ends with a verdict and
a threat score; --output writes the JSON report.

Target (one of):
  --pid PID          monitor a running process and every process it creates
  -- COMMAND [ARGS]  start COMMAND with the probes already attached
  demo               run the bundled samples (a benign WebAssembly workload and a
                     WebAssembly cryptominer) under monitoring and print each verdict

Options:
  --bpf              use the eBPF probes (the default when running as root);
                     falls back to /proc polling with a warning if they cannot load
  --no-bpf           /proc polling only (no root needed)
  --timeout SECS     how long to monitor (default 60; 0 = until the target exits)
  --output FILE      write the JSON report to FILE (mode 0600, replaced atomically)
  --rules FILE       JSON file overriding rule lists and levels (see README)
  --syscalls MODE    lean (default): hook only the syscalls the rules need and
                     sample syscall frequency from /proc; exact: hook every
                     syscall for exact counts (every process on the host pays)
  --ring-buffer BYTES  kernel ring buffer size (default 8388608; a power of two)
  --user NAME|UID    run COMMAND as this user (launch mode)
  --as-root          under sudo, run COMMAND as root rather than as you
  -h, --help         show this help
  -V, --version      show the version (with --verbose: what the addon was built with)
  --verbose          with --version: Node, libbpf, the static libraries' sources, the BPF object

Ctrl-C (or SIGTERM, SIGHUP) stops monitoring early and still writes the report;
a second Ctrl-C quits at once. Run as root for eBPF: sudo env "PATH=$PATH" wasmshark ...
Under sudo, COMMAND runs as the user who ran sudo (their groups, HOME, USER),
never as root unless --as-root says so, and the report file is theirs.`;

export class UsageError extends Error {}

export interface CliArgs {
  demo: boolean;
  pid?: number;
  command?: string[];
  bpf: boolean | 'auto';
  timeout: number;
  output?: string;
  rules?: string;
  ringBuffer?: number;
  syscalls?: 'lean' | 'exact';
  /** Launch mode: run the command as this user (name or uid). */
  user?: string;
  /** Launch mode under sudo: keep root for the command. */
  asRoot: boolean;
  help: boolean;
  version: boolean;
  verbose: boolean;
}

function parseNumber(flag: string, text: string | undefined, integer: boolean): number {
  if (text === undefined || text === '') throw new UsageError(`${flag} needs a value`);
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} expects ${integer ? 'a positive integer' : 'a number of seconds'}, got '${escapeText(text, 40)}'`);
  }
  return n;
}

export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { demo: false, bpf: 'auto', timeout: 60, asRoot: false, help: false, version: false, verbose: false };
  let sawBpf = false;
  let sawNoBpf = false;
  let i = 0;
  if (argv[0] === 'demo') {
    args.demo = true;
    i = 1;
  }
  for (; i < argv.length; i++) {
    const raw = argv[i];
    if (raw === '--') {
      args.command = argv.slice(i + 1);
      if (args.command.length === 0) throw new UsageError('-- must be followed by a command to run');
      break;
    }
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '-V':
      case '--version':
        args.version = true;
        break;
      case '--verbose':
        args.verbose = true;
        break;
      case '--pid':
      case '-p':
        args.pid = parseNumber('--pid', value(), true);
        if (args.pid < 1) throw new UsageError('--pid must be a positive integer');
        break;
      case '--bpf':
        sawBpf = true;
        break;
      case '--no-bpf':
        sawNoBpf = true;
        break;
      case '--timeout':
      case '-t':
        args.timeout = parseNumber('--timeout', value(), false);
        break;
      case '--output':
      case '-o': {
        const file = value();
        if (!file) throw new UsageError('--output needs a file name');
        args.output = file;
        break;
      }
      case '--ring-buffer': {
        const bytes = parseNumber('--ring-buffer', value(), true);
        if (bytes < 4096 || bytes > 1 << 30 || (bytes & (bytes - 1)) !== 0) {
          throw new UsageError(`--ring-buffer must be a power of two between 4096 and 1073741824, got ${bytes}`);
        }
        args.ringBuffer = bytes;
        break;
      }
      case '--syscalls': {
        const mode = value();
        if (mode !== 'lean' && mode !== 'exact') {
          throw new UsageError(`--syscalls expects lean or exact, got '${escapeText(mode ?? '', 40)}'`);
        }
        args.syscalls = mode;
        break;
      }
      case '--user':
      case '-u': {
        const user = value();
        if (!user) throw new UsageError('--user needs a user name or uid');
        args.user = user;
        break;
      }
      case '--as-root':
        args.asRoot = true;
        break;
      case '--rules': {
        const file = value();
        if (!file) throw new UsageError('--rules needs a file name');
        args.rules = file;
        break;
      }
      default:
        throw new UsageError(
          raw.startsWith('-') ? `unknown option '${escapeText(raw, 60)}'` : `unexpected argument '${escapeText(raw, 60)}' (to run a command, put it after --)`,
        );
    }
  }
  if (sawBpf && sawNoBpf) throw new UsageError('--bpf and --no-bpf cannot be used together');
  args.bpf = sawBpf ? true : sawNoBpf ? false : 'auto';
  if (args.user !== undefined && args.asRoot) throw new UsageError('--user and --as-root cannot be used together');
  if (args.help || args.version) return args;
  if (args.demo) {
    if (args.pid !== undefined || args.command || args.output || args.rules || args.user !== undefined || args.asRoot) {
      throw new UsageError('demo takes no target, --output or --rules (only --bpf / --no-bpf)');
    }
    return args;
  }
  if (args.pid !== undefined && args.command) throw new UsageError('use either --pid or -- COMMAND, not both');
  if (args.pid === undefined && !args.command) throw new UsageError('nothing to monitor: give --pid PID or -- COMMAND');
  if (args.pid !== undefined && (args.user !== undefined || args.asRoot)) {
    throw new UsageError(`${args.asRoot ? '--as-root' : '--user'} is for launch mode (-- COMMAND); --pid watches a process as it runs`);
  }
  return args;
}

/** --version --verbose: what this installation runs with, for bug reports. */
function buildInfo(): string {
  const lines = [`node           : ${process.version} (${process.platform}-${process.arch})`];
  try {
    const { build } = loadAddon();
    lines.push(`libbpf         : ${build.libbpf} (linked into the addon)`, ...build.deps.split('; ').map((d) => `built from     : ${d}`));
  } catch (err) {
    lines.push(`addon          : not loadable (${(err as Error).message})`);
  }
  lines.push(`BPF object     : ${BPF_OBJECT_PATH}`);
  return `${lines.join('\n')}\n`;
}

interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

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

function fatal(io: Io, message: string, usage = false): number {
  io.err.write(`wasmshark: error: ${escapeText(message)}\n`);
  if (usage) io.err.write(`Try 'wasmshark --help' for usage.\n`);
  return usage ? 2 : 1;
}

export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    return fatal(io, (err as Error).message, true);
  }
  if (args.help) {
    io.out.write(`${USAGE}\n`);
    return 0;
  }
  if (args.version) {
    io.out.write(`wasmshark ${VERSION}\n`);
    if (args.verbose) io.out.write(buildInfo());
    return 0;
  }

  if (args.demo) return runDemo(io, args.bpf !== false);

  const options: MonitorOptions = { bpf: args.bpf, timeout: args.timeout, ringBufferBytes: args.ringBuffer, syscalls: args.syscalls };
  let output: string | undefined;
  let owner: FileOwner | null = null;
  let m: Monitor;
  try {
    owner = sudoOwner();
    if (args.output) output = checkOutputPath(args.output, owner);
    if (args.rules) options.rules = loadRules(args.rules);
    const user = args.command ? launchUser(args, io) : null;
    if (args.bpf !== false && process.getuid?.() !== 0) {
      options.bpf = false;
      io.err.write(`wasmshark: warning: eBPF probes need root (sudo env "PATH=$PATH" wasmshark ...); using /proc polling\n`);
    }
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

  const view = new ConsoleRenderer(io.out, io.err, {
    colour: wantsColour(io.out),
    progress: io.err.isTTY === true,
    timeout: args.timeout,
    output: args.output,
  });
  let events = 0;
  let alerts = 0;
  let startedAt = Date.now();
  m.on('ready', (info) => {
    startedAt = Date.now();
    view.banner(info, VERSION);
  });
  m.on('warning', (w) => view.warning(w));
  m.on('error', (e) => {
    view.clearProgress();
    io.err.write(`wasmshark: error: ${escapeText(e.message)}\n`);
  });
  m.on('event', () => events++);
  m.on('alert', (a) => {
    alerts++;
    view.alert(a);
  });
  const ticker = setInterval(() => view.progress((Date.now() - startedAt) / 1000, events, alerts), 250);

  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      view.clearProgress();
      io.err.write(`wasmshark: ${signal} again: quitting without a report\n`);
      process.exit(130);
    }
    view.clearProgress();
    io.err.write(`wasmshark: ${signal}: stopping, writing the report (again to quit at once)\n`);
    void m.stop('interrupted');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

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
  await m.done;
  for (const s of signals) process.off(s, onSignal);
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // a launched command that ignores SIGTERM must not keep us here
      setTimeout(() => process.exit(code), 3000).unref();
    },
    (err: Error) => {
      process.stderr.write(`wasmshark: error: ${escapeText(err.message)}\n`);
      process.exit(1);
    },
  );
}
