/*
 * The bench's flags: what each means, its default, and --quick's smaller
 * defaults. The runner fills OPT once (configure); every section reads it.
 */
'use strict';

const FLAGS = {
  rounds: [7, 'churn rounds: every configuration once per round, as target and as bystander (the watch section: as bystander)'],
  churn: [200000, 'mmap+munmap iterations per churn run'],
  getppid: [2000000, 'getppid() calls per run, with --loop-getppid'],
  'startup-rounds': [10, 'rounds of the start-up measures (CLI, monitor(), bpftrace)'],
  'attach-rounds': [20, 'startProbes() load+attach / stop repetitions'],
  'burst-rounds': [3, 'rounds of the W+X burst (wasmshark monitor(), startProbes(), bpftrace)'],
  burst: [200000, 'W+X mmaps per burst'],
  rate: [100000, 'sustained test: W+X mmaps per second'],
  'rate-secs': [5, 'sustained test: seconds'],
  'sustained-rounds': [3, 'sustained test: rounds (every monitor once per round)'],
  'latency-procs': [200, 'latency test: processes, each mapping W+X 10 times (one alert each)'],
  'idle-secs': [10, 'idle CPU test: seconds'],
  'busy-rounds': [7, 'busy runtime: rounds (every monitor once per round, on workerd and on Node)'],
  'busy-secs': [3, 'busy runtime: seconds of HTTP load on workerd per run'],
  'busy-requests': [100000, 'busy runtime: at most this many HTTP requests per run'],
  'busy-conns': [4, 'busy runtime: keep-alive connections of the load loop (at most 64)'],
  'wasm-secs': [2, 'busy runtime: seconds of the Node WASM workload per run'],
  'watch-runtimes': [20, 'watch: idle runtimes (node, bun, deno in turn) the watch follows'],
  'watch-secs': [20, 'watch: seconds of the idle CPU window'],
  'watch-rounds': [3, 'watch: idle CPU windows (the bystander part runs --rounds rounds)'],
  'quiet-wait': [120, 'seconds to wait in all (whole run) for other processes\' syscall hooks to go'],
};
const SECTIONS = ['cost', 'startup', 'burst', 'sustained', 'latency', 'idle', 'busy', 'watch', 'symbols'];
const BOOLEAN_FLAGS = {
  'no-bpftrace': 'skip bpftrace even when it is installed',
  'loop-getppid': 'measure 1+2 on a getppid() loop instead of trigger churn: hook costs show plainly (use with --explain)',
  explain: 'add configurations that split wasmshark\'s cost above its floors (targets lookup, counting, call-site check)',
  quick: 'a smoke test: few rounds, short runs (figures are not meaningful)',
  help: 'this text',
};

function parseFlags(argv) {
  const opts = Object.fromEntries(Object.entries(FLAGS).map(([k, [v]]) => [k, v]));
  for (const k of Object.keys(BOOLEAN_FLAGS)) opts[k] = false;
  opts.only = SECTIONS;
  if (argv.includes('--quick')) {
    // smaller defaults; flags given as well still win
    Object.assign(opts, { rounds: 2, churn: 50000, getppid: 500000, 'startup-rounds': 2, 'attach-rounds': 3, 'burst-rounds': 1, burst: 20000 });
    Object.assign(opts, { 'rate-secs': 1, 'sustained-rounds': 1, 'latency-procs': 20, 'idle-secs': 2 });
    Object.assign(opts, { 'busy-rounds': 2, 'busy-secs': 1, 'wasm-secs': 1, 'quiet-wait': 10 });
    Object.assign(opts, { 'watch-runtimes': 6, 'watch-secs': 3, 'watch-rounds': 1 });
  }
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'only') {
      opts.only = String(argv[++i] ?? '').split(',');
      const bad = opts.only.find((x) => !SECTIONS.includes(x));
      if (bad !== undefined) usage(`--only takes a comma-separated list of ${SECTIONS.join(', ')}`);
    } else if (name in BOOLEAN_FLAGS) {
      opts[name] = true;
    } else if (name in FLAGS) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) usage(`--${name} needs a positive number`);
      opts[name] = v;
    } else {
      usage(`unknown flag ${argv[i]}`);
    }
  }
  if (opts.help) usage();
  if (opts['busy-conns'] > 64 || !Number.isInteger(opts['busy-conns'])) usage('--busy-conns takes a whole number up to 64');
  return opts;
}

function usage(error) {
  const lines = ['usage: sudo npm run bench [-- FLAGS]', ''];
  for (const [k, [v, help]] of Object.entries(FLAGS)) lines.push(`  --${k} N`.padEnd(24) + `${help} (${v})`);
  lines.push('  --only LIST'.padEnd(24) + `run only these sections (${SECTIONS.join(',')})`);
  for (const [k, help] of Object.entries(BOOLEAN_FLAGS)) lines.push(`  --${k}`.padEnd(24) + help);
  if (error) {
    console.error(`bench: ${error}\n${lines.join('\n')}`);
    process.exit(2);
  }
  console.log(lines.join('\n'));
  process.exit(0);
}

/** The options of this run, filled by configure() before any section runs. */
const OPT = {};

function configure(argv) {
  Object.assign(OPT, parseFlags(argv));
  return OPT;
}

module.exports = { OPT, SECTIONS, configure };
