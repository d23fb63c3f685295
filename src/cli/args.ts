/**
 * The command line: node's own parseArgs tokenises, this file decides. Every
 * mistake is one line that names the flag (UsageError; the CLI exits 2).
 */
import { parseArgs as tokenize } from 'util';
import { escapeText } from '../console';
import { KNOWN_RUNTIMES } from '../runtime/identify';

export const USAGE = `Usage: wasmshark --pid PID [options]
       wasmshark [options] -- COMMAND [ARGS...]
       wasmshark watch [--runtime NAMES | --all-runtimes] [--pid PID ...] [options]
       wasmshark demo [--no-bpf]

Watch a WebAssembly runtime (wasmtime, Node/V8, workerd, Bun, wasmer, ...) from
the kernel and report what it does: W+X memory, memory made executable, child
processes, outbound connections, exposed credentials. Ends with a verdict and
a threat score; --output writes the JSON report.

Target (one of):
  --pid PID          monitor a running process and every process it creates
  -- COMMAND [ARGS]  start COMMAND with the probes already attached
  watch              follow every WebAssembly runtime on the host, each judged
                     on its own, until Ctrl-C or SIGTERM (see below)
  demo               run the bundled samples (a benign WebAssembly workload and a
                     WebAssembly cryptominer) under monitoring and print each verdict

Options:
  --bpf              use the eBPF probes (the default when running as root);
                     falls back to /proc polling with a warning if they cannot load
  --no-bpf           /proc polling only (no root needed)
  --timeout SECS     how long to monitor (default 60, watch: 0; 0 = until the
                     target exits, or for watch until stopped)
  --output FILE      write the JSON report to FILE (mode 0600, replaced atomically)
  --rules FILE       JSON file overriding rule lists and levels (see README)
  --syscalls MODE    lean (default): hook only the syscalls the rules need and
                     sample syscall frequency from /proc; exact: hook every
                     syscall for exact counts (every process on the host pays)
  --ring-buffer BYTES  kernel ring buffer size (default 8388608; a power of two)
  --no-symbols       do not name the code behind alerts (the WASM function, the
                     import it called, the host function), and in launch mode do
                     not turn on the runtime's JIT symbol map (--perf-basic-prof)
  --user NAME|UID    run COMMAND as this user (launch mode)
  --as-root          under sudo, run COMMAND as root rather than as you
  --format FORMAT    human (default) or ndjson: one JSON object a line on stdout
                     for each alert (and verdict); the console goes to stderr
  --events           with --format ndjson or --syslog: every event too
  --syslog           send the same objects to the local syslog (RFC 5424, /dev/log)
  --syslog-socket PATH  the syslog socket (default /dev/log)
  -h, --help         show this help
  -V, --version      show the version (with --verbose: what the addon was built with)
  --verbose          with --version: Node, libbpf, the static libraries' sources, the BPF object

Watch:
  --runtime NAMES    follow these runtimes (comma-separated: ${KNOWN_RUNTIMES.join(', ')})
  --all-runtimes     follow every runtime wasmshark knows (the default, unless
                     --pid is given alone)
  --pid PID          follow this process too, whatever it runs (repeatable)
  --output-dir DIR   write each followed runtime's report to DIR/<pid>-<starttime>.json
                     when it exits and when the watch ends
  --metrics ADDR:PORT  serve Prometheus metrics on http://ADDR:PORT/metrics

Ctrl-C (or SIGTERM, SIGHUP) stops monitoring early and still writes the report;
a second Ctrl-C quits at once. Run as root for eBPF: sudo env "PATH=$PATH" wasmshark ...
Under sudo, COMMAND runs as the user who ran sudo (their groups, HOME, USER),
never as root unless --as-root says so, and report files are theirs.`;

export class UsageError extends Error {}

export type OutputFormat = 'human' | 'ndjson';

export interface CliArgs {
  mode: 'monitor' | 'watch' | 'demo';
  /** The target in monitor mode. */
  pid?: number;
  /** Processes to follow as well in watch mode. */
  pids: number[];
  command?: string[];
  bpf: boolean | 'auto';
  /** Name the code behind alerts (and turn JIT maps on in launch mode); --no-symbols: false. */
  symbols: boolean;
  timeout: number;
  output?: string;
  rules?: string;
  ringBuffer?: number;
  syscalls?: 'lean' | 'exact';
  /** Launch mode: run the command as this user (name or uid). */
  user?: string;
  /** Launch mode under sudo: keep root for the command. */
  asRoot: boolean;
  format: OutputFormat;
  events: boolean;
  syslog: boolean;
  syslogSocket?: string;
  /** Watch: which runtimes to follow. */
  runtimes: string[] | 'all';
  outputDir?: string;
  metrics?: { host: string; port: number };
  help: boolean;
  version: boolean;
  verbose: boolean;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  verbose: { type: 'boolean' },
  user: { type: 'string', short: 'u' },
  'as-root': { type: 'boolean' },
  pid: { type: 'string', short: 'p', multiple: true },
  bpf: { type: 'boolean' },
  'no-bpf': { type: 'boolean' },
  'no-symbols': { type: 'boolean' },
  timeout: { type: 'string', short: 't' },
  output: { type: 'string', short: 'o' },
  rules: { type: 'string' },
  'ring-buffer': { type: 'string' },
  syscalls: { type: 'string' },
  format: { type: 'string' },
  events: { type: 'boolean' },
  syslog: { type: 'boolean' },
  'syslog-socket': { type: 'string' },
  runtime: { type: 'string', multiple: true },
  'all-runtimes': { type: 'boolean' },
  'output-dir': { type: 'string' },
  metrics: { type: 'string' },
} as const;

type Name = keyof typeof OPTIONS;

/** What a flag's missing value is called in its error. */
const VALUE_NAMES: Partial<Record<Name, string>> = {
  output: 'a file name',
  user: 'a user name or uid',
  rules: 'a file name',
  'output-dir': 'a directory',
  'syslog-socket': 'a socket path',
  format: 'a format (human or ndjson)',
  syscalls: 'a mode (lean or exact)',
  runtime: 'runtime names',
  metrics: 'an address (127.0.0.1:9464)',
};

const WATCH_ONLY: Name[] = ['runtime', 'all-runtimes', 'output-dir', 'metrics'];
const SUBCOMMANDS = new Set(['watch', 'demo']);

function parseNumber(flag: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} expects ${integer ? 'a positive integer' : 'a number of seconds'}, got '${escapeText(text, 40)}'`);
  }
  return n;
}

function parsePid(text: string): number {
  const pid = parseNumber('--pid', text, true);
  if (pid < 1) throw new UsageError('--pid must be a positive integer');
  return pid;
}

/** ADDR:PORT, [IPv6]:PORT; port 0 picks a free one (the CLI prints which). */
function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--metrics expects ADDR:PORT (e.g. 127.0.0.1:9464), got '${escapeText(text, 60)}'`);
  return { host: m[1] ?? m[2], port };
}

function parseRuntimes(lists: string[]): string[] {
  const names = lists.flatMap((l) => l.split(',')).map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) throw new UsageError('--runtime needs runtime names');
  for (const n of names) {
    if (!KNOWN_RUNTIMES.includes(n)) {
      throw new UsageError(`--runtime: unknown runtime '${escapeText(n, 40)}' (known: ${KNOWN_RUNTIMES.join(', ')})`);
    }
  }
  return [...new Set(names)];
}

export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = {
    mode: 'monitor', pids: [], bpf: 'auto', symbols: true, timeout: 60, asRoot: false, format: 'human', events: false, syslog: false, runtimes: 'all',
    help: false, version: false, verbose: false,
  };
  let rest = argv;
  if (SUBCOMMANDS.has(argv[0])) {
    args.mode = argv[0] as CliArgs['mode'];
    rest = argv.slice(1);
  }
  // Not strict: unknown flags, missing values and stray words come back as tokens, and get our own messages.
  const { tokens } = tokenize({ args: rest, options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const seen = new Set<Name>();
  let timeout: number | undefined;
  let runtimeLists: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      args.command = rest.slice(token.index + 1);
      if (args.command.length === 0) throw new UsageError('-- must be followed by a command to run');
      break;
    }
    if (token.kind === 'positional') {
      throw new UsageError(`unexpected argument '${escapeText(token.value, 60)}' (to run a command, put it after --)`);
    }
    const raw = token.rawName;
    if (!(token.name in OPTIONS)) throw new UsageError(`unknown option '${escapeText(raw, 60)}'`);
    const name = token.name as Name;
    const spec = OPTIONS[name];
    const flag = raw.startsWith('--') ? raw : `--${name}`;
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${flag} takes no value`);
    } else if (token.value === undefined || token.value === '') {
      throw new UsageError(`${flag} needs ${VALUE_NAMES[name] ?? 'a value'}`);
    }
    seen.add(name);
    const value = token.value ?? '';
    switch (name) {
      case 'help':
        args.help = true;
        break;
      case 'version':
        args.version = true;
        break;
      case 'verbose':
        args.verbose = true;
        break;
      case 'user':
        args.user = value;
        break;
      case 'as-root':
        args.asRoot = true;
        break;
      case 'pid':
        args.pids.push(parsePid(value));
        break;
      case 'timeout':
        timeout = parseNumber('--timeout', value, false);
        break;
      case 'output':
        args.output = value;
        break;
      case 'rules':
        args.rules = value;
        break;
      case 'ring-buffer': {
        const bytes = parseNumber('--ring-buffer', value, true);
        if (bytes < 4096 || bytes > 1 << 30 || (bytes & (bytes - 1)) !== 0) {
          throw new UsageError(`--ring-buffer must be a power of two between 4096 and 1073741824, got ${bytes}`);
        }
        args.ringBuffer = bytes;
        break;
      }
      case 'syscalls':
        if (value !== 'lean' && value !== 'exact') throw new UsageError(`--syscalls expects lean or exact, got '${escapeText(value, 40)}'`);
        args.syscalls = value;
        break;
      case 'format':
        if (value !== 'human' && value !== 'ndjson') throw new UsageError(`--format must be human or ndjson, got '${escapeText(value, 40)}'`);
        args.format = value;
        break;
      case 'events':
        args.events = true;
        break;
      case 'syslog':
        args.syslog = true;
        break;
      case 'syslog-socket':
        args.syslogSocket = value;
        break;
      case 'runtime':
        runtimeLists = [...runtimeLists, value];
        break;
      case 'output-dir':
        args.outputDir = value;
        break;
      case 'metrics':
        args.metrics = parseListen(value);
        break;
      // 'bpf', 'no-bpf', 'no-symbols', 'all-runtimes': only their presence matters
    }
  }
  if (seen.has('bpf') && seen.has('no-bpf')) throw new UsageError('--bpf and --no-bpf cannot be used together');
  args.bpf = seen.has('bpf') ? true : seen.has('no-bpf') ? false : 'auto';
  args.symbols = !seen.has('no-symbols');
  if (args.user !== undefined && args.asRoot) throw new UsageError('--user and --as-root cannot be used together');
  if (args.help || args.version) return args;

  if (args.mode === 'demo') {
    const allowed = new Set<Name>(['bpf', 'no-bpf', 'timeout', 'ring-buffer', 'syscalls']);
    if (args.command || [...seen].some((n) => !allowed.has(n))) {
      throw new UsageError('demo takes no target, --output or --rules (only --bpf / --no-bpf)');
    }
    return args;
  }

  if (args.events && args.format !== 'ndjson' && !args.syslog) throw new UsageError('--events goes with --format ndjson or --syslog');
  if (args.syslogSocket !== undefined && !args.syslog) throw new UsageError('--syslog-socket goes with --syslog');

  const runAs = args.asRoot ? '--as-root' : args.user !== undefined ? '--user' : null;
  if (args.mode === 'watch') {
    if (runAs) throw new UsageError(`${runAs} is for launch mode (-- COMMAND); watch follows processes as they run`);
    if (args.command) throw new UsageError('watch runs no command: it follows the runtimes already on the host and those started later');
    if (args.output) throw new UsageError('watch writes one report per runtime: use --output-dir DIR');
    if (seen.has('runtime') && seen.has('all-runtimes')) throw new UsageError('use either --runtime or --all-runtimes, not both');
    if (seen.has('runtime')) args.runtimes = parseRuntimes(runtimeLists);
    // --pid alone follows just those; asked for nothing in particular, every runtime
    else if (!seen.has('all-runtimes') && args.pids.length > 0) args.runtimes = [];
    args.timeout = timeout ?? 0;
    return args;
  }

  for (const name of WATCH_ONLY) if (seen.has(name)) throw new UsageError(`--${name} is for watch mode (wasmshark watch ...)`);
  // the last --pid wins, as it always has
  args.pid = args.pids.length > 0 ? args.pids[args.pids.length - 1] : undefined;
  args.pids = [];
  args.timeout = timeout ?? 60;
  if (args.pid !== undefined && args.command) throw new UsageError('use either --pid or -- COMMAND, not both');
  if (args.pid === undefined && !args.command) throw new UsageError('nothing to monitor: give --pid PID or -- COMMAND');
  if (args.pid !== undefined && runAs) throw new UsageError(`${runAs} is for launch mode (-- COMMAND); --pid watches a process as it runs`);
  return args;
}
