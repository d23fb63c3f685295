/** The command line as parsed: every mode's flags, and one specific message for each mistake. */
import { parseArgs, UsageError } from '../src/cli/args';

describe('monitor mode', () => {
  it('reads the flags it always had, in both spellings, with = or a separate value', () => {
    expect(parseArgs(['--pid', '42', '--bpf', '--timeout', '2.5', '--output', 'r.json', '--rules', 'x.json', '--ring-buffer', '65536'])).toMatchObject({
      mode: 'monitor', pid: 42, bpf: true, timeout: 2.5, output: 'r.json', rules: 'x.json', ringBuffer: 65536, format: 'human',
    });
    expect(parseArgs(['-p', '42', '-t', '3', '-o', 'r.json', '--no-bpf'])).toMatchObject({ pid: 42, timeout: 3, output: 'r.json', bpf: false });
    expect(parseArgs(['--pid=42', '--timeout=0'])).toMatchObject({ pid: 42, timeout: 0, bpf: 'auto' });
    expect(parseArgs(['--pid', '1', '--pid', '7'])).toMatchObject({ pid: 7 }); // the last one wins, as it always has
  });

  it('takes everything after -- as the command, options included', () => {
    expect(parseArgs(['--timeout', '5', '--', 'node', '--inspect', 'app.js', '--', 'x'])).toMatchObject({
      mode: 'monitor', timeout: 5, command: ['node', '--inspect', 'app.js', '--', 'x'],
    });
  });

  it('streams: --format ndjson, --events, --syslog with its socket', () => {
    expect(parseArgs(['--pid', '1', '--format', 'ndjson', '--events', '--syslog', '--syslog-socket', '/run/x.sock'])).toMatchObject({
      format: 'ndjson', events: true, syslog: true, syslogSocket: '/run/x.sock',
    });
  });
});

describe('watch mode', () => {
  it('follows every runtime by default, the named ones with --runtime, only the given pids with --pid alone', () => {
    expect(parseArgs(['watch'])).toMatchObject({ mode: 'watch', runtimes: 'all', pids: [], timeout: 0 });
    expect(parseArgs(['watch', '--runtime', 'node,bun', '--runtime', 'workerd'])).toMatchObject({ runtimes: ['node', 'bun', 'workerd'] });
    expect(parseArgs(['watch', '--pid', '10', '--pid', '11'])).toMatchObject({ runtimes: [], pids: [10, 11] });
    expect(parseArgs(['watch', '--all-runtimes', '--pid', '10'])).toMatchObject({ runtimes: 'all', pids: [10] });
  });

  it('reads its outputs: --output-dir, --metrics (IPv4, [IPv6], port 0), --format ndjson', () => {
    expect(parseArgs(['watch', '--output-dir', 'd', '--metrics', '127.0.0.1:9464', '--format', 'ndjson'])).toMatchObject({
      outputDir: 'd', metrics: { host: '127.0.0.1', port: 9464 }, format: 'ndjson',
    });
    expect(parseArgs(['watch', '--metrics', '[::1]:0']).metrics).toEqual({ host: '::1', port: 0 });
    expect(parseArgs(['watch', '--timeout', '30']).timeout).toBe(30);
  });
});

describe('mistakes: one line naming the flag', () => {
  it.each([
    [['--bogus'], "unknown option '--bogus'"],
    [['-x'], "unknown option '-x'"],
    [[], 'nothing to monitor: give --pid PID or -- COMMAND'],
    [['--pid'], '--pid needs a value'],
    [['--pid', ''], '--pid needs a value'],
    [['--pid', '0'], '--pid must be a positive integer'],
    [['--pid', '1.5'], "--pid expects a positive integer, got '1.5'"],
    [['--output'], '--output needs a file name'],
    [['--pid', '1', '--timeout', '-3'], "--timeout expects a number of seconds, got '-3'"],
    [['--pid', '1', '--ring-buffer', '5000'], '--ring-buffer must be a power of two between 4096 and 1073741824, got 5000'],
    [['--pid', '1', '--syscalls', 'fast'], "--syscalls expects lean or exact, got 'fast'"],
    [['--pid', '1', '--bpf=yes'], '--bpf takes no value'],
    [['--pid', '1', 'extra'], "unexpected argument 'extra' (to run a command, put it after --)"],
    [['--'], '-- must be followed by a command to run'],
    [['--pid', '1', '--format', 'xml'], "--format must be human or ndjson, got 'xml'"],
    [['--pid', '1', '--events'], '--events goes with --format ndjson or --syslog'],
    [['--pid', '1', '--syslog-socket', '/x'], '--syslog-socket goes with --syslog'],
    [['--pid', '1', '--output-dir', 'd'], '--output-dir is for watch mode (wasmshark watch ...)'],
    [['--pid', '1', '--metrics', '127.0.0.1:1'], '--metrics is for watch mode (wasmshark watch ...)'],
    [['watch', '--output', 'r.json'], 'watch writes one report per runtime: use --output-dir DIR'],
    [['watch', '--', 'node'], 'watch runs no command: it follows the runtimes already on the host and those started later'],
    [['watch', '--runtime', 'node,java'], "--runtime: unknown runtime 'java' (known: node, deno, bun, workerd, wasmtime, wasmer, wasmedge, iwasm, wasm3, wazero)"],
    [['watch', '--runtime', ','], '--runtime needs runtime names'],
    [['watch', '--runtime', 'node', '--all-runtimes'], 'use either --runtime or --all-runtimes, not both'],
    [['watch', '--metrics', '9464'], "--metrics expects ADDR:PORT (e.g. 127.0.0.1:9464), got '9464'"],
    [['watch', '--metrics', '127.0.0.1:70000'], "--metrics expects ADDR:PORT (e.g. 127.0.0.1:9464), got '127.0.0.1:70000'"],
    [['demo', '--output', 'x'], 'demo takes no target, --output or --rules (only --bpf / --no-bpf)'],
    [['--pid', '1', '--output', '\x1b[31mred'], null],
  ])('%j', (argv, message) => {
    if (message === null) {
      expect(() => parseArgs(argv as string[])).not.toThrow();
      return;
    }
    let error: unknown;
    try {
      parseArgs(argv as string[]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(message);
  });

  it('shows hostile text escaped in its errors', () => {
    expect(() => parseArgs(['--\x1b[2J'])).toThrow("unknown option '--\\x1b[2J'");
  });
});
