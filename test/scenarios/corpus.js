/**
 * The labelled scenario corpus: real runtimes doing their normal JIT work
 * (benign), and attacks inside or beside them (malicious). Each declares the
 * verdict it must get and the alerts (rule ids) it must raise. Used by
 * test/60.scenarios.test.ts, test/62.verdicts.test.ts and scripts/scenarios.js.
 *
 * Rows marked `cli` are one decisive act each: the process repeats its act
 * every 2 s (`trigger --every 2000`, or the workload's own loop), is attached
 * after 1 s and judged for `timeout` seconds, the way an analyst runs
 * `wasmshark --pid N --bpf --timeout T --output r.json`; npm test runs them
 * through the CLI (test/62), the others through the library (test/60).
 *
 * `paths` gives the programs: node, bun, workerd, deno, trigger
 * (test/fixtures/trigger.c), evilAddon (workloads/evil-addon.c built as a
 * Node addon), payload (test/fixtures/payload.c built as a shared library),
 * wasmtimePython (a venv's python with wasmtime from pip), libwasmtime (the
 * C API library of that wheel), wasmtimeHost (test/fixtures/wasmtime-host.c).
 * `$SECRET` in a command is a credential file the runner makes for the
 * scenario. `evidence` maps a required rule to what its evidence must say
 * (the file or the process it names).
 */
'use strict';
const path = require('path');

const W = (f) => path.join(__dirname, 'workloads', f);

/** Seconds each `cli` row is monitored: with an act every 2 s from attach at 1 s, two acts fall inside. */
const CLI_TIMEOUT = 4;

// Deno otherwise asks its release server for a newer version now and then: not what the workload does
const DENO_ENV = { DENO_NO_UPDATE_CHECK: '1' };

function corpus(paths) {
  const benign = (over) => ({ label: 'benign', verdict: 'CLEAN', required: [], ...over });
  const malicious = (over) => ({ label: 'malicious', ...over });
  const act = (over) => ({ cli: true, attachAfterMs: 1000, timeout: CLI_TIMEOUT, ...over });
  const every = (...args) => [paths.trigger, '--every', '2000', ...args];
  const deno = (...args) => ({ command: [paths.deno, 'run', '--no-prompt', ...args], env: DENO_ENV });
  // a plugin host embedding wasmtime in Python: MODE, a new module compiled every EVERY ms, ROUNDS (0: forever)
  const pyHost = (mode, every, rounds) => ({ command: [paths.wasmtimePython, W('wasmtime-host.py'), mode, String(every), String(rounds)] });
  return [
    benign({ name: 'node: WASM workload, launched', command: [paths.node, W('wasm-loop.js'), '1500'] }),
    benign({ name: 'node: WASM workload, attached after warm-up', command: [paths.node, W('wasm-loop.js'), '4000'], attachAfterMs: 1500 }),
    benign({ name: 'bun: WASM workload, launched', command: [paths.bun, W('wasm-loop.js'), '1500'] }),
    benign({ name: 'bun: WASM workload, attached after warm-up', command: [paths.bun, W('wasm-loop.js'), '4000'], attachAfterMs: 1500 }),
    benign({ name: 'workerd: WASM worker serving requests, launched', command: [paths.workerd, 'serve', '$CONFIG'], workerd: true }),
    benign({ name: 'workerd: WASM worker, attached after warm-up', command: [paths.workerd, 'serve', '$CONFIG'], workerd: true, attachAfterMs: 1 }),
    benign({ name: 'deno: WASM workload, launched', ...deno(W('deno-wasm.mjs'), 'loop', '1500') }),
    benign({ name: 'deno: WASM workload, attached after warm-up', ...deno(W('deno-wasm.mjs'), 'loop', '4000'), attachAfterMs: 1500 }),
    benign({ name: 'C: syscall-heavy program (mmap/munmap loop)', command: [paths.trigger, 'churn', '1000000'] }),
    benign({ name: 'wasmtime: Python plugin host compiling a module every 300 ms, launched', ...pyHost('loop', 300, 6) }),
    benign({ name: 'wasmtime: Python plugin host, attached after warm-up', ...pyHost('loop', 300, 12), attachAfterMs: 1500 }),
    benign({ name: 'wasmtime: C host through the C API (no Python, no libffi), launched', command: [paths.wasmtimeHost, paths.libwasmtime, '200', '8'] }),

    malicious({ name: 'C: W+X shellcode staging, main thread', command: [paths.trigger, 'wx', '1'], verdict: 'MALICIOUS', required: ['memory.wx-mmap'] }),
    malicious({ name: 'C: W+X shellcode staging, second thread', command: [paths.trigger, 'wx-thread'], verdict: 'MALICIOUS', required: ['memory.wx-mmap'] }),
    malicious({
      name: 'C: shellcode issuing a raw syscall from its page',
      command: [paths.trigger, 'shellcode'],
      verdict: 'MALICIOUS',
      required: ['memory.wx-mmap', 'memory.anon-syscall'],
    }),
    malicious({
      name: 'node: native host function maps W+X',
      command: [paths.node, W('node-evil-addon.js'), paths.evilAddon, 'stage'],
      verdict: 'MALICIOUS',
      required: ['memory.wx-mmap'],
    }),
    malicious({
      name: "node: native host function does V8's mprotect RWX",
      command: [paths.node, W('node-evil-addon.js'), paths.evilAddon, 'protect'],
      verdict: 'MALICIOUS',
      required: ['memory.jit-foreign-site'],
    }),
    malicious({ name: 'node: runtime spawns a shell', command: [paths.node, W('node-spawn-shell.js')], verdict: 'MALICIOUS', required: ['process.shell'] }),
    malicious({
      name: "node: runtime's child subscribes to a Stratum mining pool",
      command: [paths.node, W('node-child-miner.js'), '$POOL_PORT'],
      pool: true,
      verdict: 'MALICIOUS',
      required: ['network.port', 'process.shell'],
    }),
    malicious({
      name: "node: runtime's child executes a payload from memfd",
      command: [paths.node, W('node-memfd-child.js'), paths.trigger],
      verdict: 'MALICIOUS',
      required: ['process.fileless'],
    }),
    malicious({
      name: 'deno: a host function runs a shell through Deno.Command',
      ...deno('--allow-run=/bin/sh', W('deno-wasm.mjs'), 'shell', '1500'),
      verdict: 'MALICIOUS',
      required: ['process.shell'],
    }),
    malicious({
      name: 'wasmtime: a host import of a Python plugin host starts a shell',
      ...pyHost('shell', 300, 3),
      verdict: 'MALICIOUS',
      required: ['process.shell'],
      evidence: { 'process.shell': /image=\/bin\/sh / },
    }),
    malicious({
      // libffi's own closure page in the same process stays INFO: the excuse is its closure allocator's, not ctypes'
      name: 'wasmtime: the Python host maps W+X memory through ctypes',
      ...pyHost('wx', 300, 3),
      verdict: 'MALICIOUS',
      required: ['memory.wx-mmap', 'memory.ffi-closure'],
      evidence: { 'memory.wx-mmap': /^prot=7 addr=0x[0-9a-f]+ len=65536 flags=MAP_PRIVATE\|MAP_ANONYMOUS /, 'memory.ffi-closure': /site=\S*\/libffi\.so/ },
    }),
    // the ways around W+X: no W+X mapping, no mprotect (each of these starts a child, itself an alert: not one act)
    malicious({
      name: "C: rewrites a child's code through /proc/PID/mem",
      command: [paths.trigger, 'proc-mem-child'],
      verdict: 'MALICIOUS',
      required: ['memory.proc-mem-write'],
      evidence: { 'memory.proc-mem-write': /^target=\d+ cmdline=sleep 5 path=\/proc\/\d+\/mem / },
    }),
    malicious({
      name: "C: rewrites a traced child's code with ptrace(PTRACE_POKETEXT)",
      command: [paths.trigger, 'ptrace-poke'],
      verdict: 'MALICIOUS',
      required: ['process.ptrace-poke'],
      evidence: { 'process.ptrace-poke': /^request=PTRACE_POKETEXT target=\d+ cmdline=sleep 5 addr=0x[0-9a-f]+ / },
    }),
    malicious({
      name: 'node: native host function loads a library from a memfd',
      command: [paths.node, W('node-evil-addon.js'), paths.evilAddon, 'memfdLoad', paths.payload],
      verdict: 'MALICIOUS',
      required: ['memory.fileless-library'],
      evidence: { 'memory.fileless-library': /^file=memfd:host-payload origin=memfd / },
    }),
    malicious({
      name: "node: JavaScript rewrites the runtime's code through /proc/self/mem",
      command: [paths.node, W('node-proc-mem.js')],
      verdict: 'MALICIOUS',
      required: ['memory.proc-mem-write'],
      evidence: { 'memory.proc-mem-write': /^target=\d+ \(itself\) path=\/proc\/\d+\/mem / },
    }),
    malicious({
      name: 'node: JavaScript reads a credential file and closes it between two polls',
      command: [paths.node, W('node-read-secret.js'), '$SECRET'],
      secret: true,
      verdict: 'SUSPICIOUS',
      required: ['file.sensitive'],
      evidence: { 'file.sensitive': /^path=\/\S+\/\.aws\/credentials fd=\d+ read / },
    }),

    // one decisive act each, judged through the CLI
    act(benign({ name: 'deno: WASM workload, attached (CLI)', ...deno(W('deno-wasm.mjs'), 'loop', '0') })),
    act(benign({ name: 'node: WASM workload, attached (CLI)', command: [paths.node, W('wasm-loop.js'), '60000'] })),
    act(benign({ name: 'C: syscall-heavy loop, attached (CLI)', command: [paths.trigger, '--every', '10', 'churn', '1000000'] })),
    // its libffi closure page is in /proc when monitoring starts
    act(benign({ name: 'wasmtime: Python plugin host compiling a module every 2 s, attached (CLI)', ...pyHost('loop', 2000, 0) })),
    act(malicious({ name: 'C: executes a payload from a memfd (fexecve), every 2 s (CLI)', command: every('memfd-exec'), verdict: 'MALICIOUS', required: ['process.fileless'] })),
    act(malicious({
      name: 'deno: Deno.Command runs /bin/sh -c true, every 2 s (CLI)',
      ...deno('--allow-run=/bin/sh', W('deno-wasm.mjs'), 'shell', '0'),
      verdict: 'MALICIOUS',
      required: ['process.shell'],
    })),
    act(malicious({ name: 'C: fork + exec /bin/sh -c true, every 2 s (CLI)', command: every('fork-exec', '/bin/sh', '-c', 'true'), verdict: 'MALICIOUS', required: ['process.shell'] })),
    act(malicious({ name: 'C: posix_spawn /usr/bin/id, every 2 s (CLI)', command: every('spawn', '/usr/bin/id'), verdict: 'SUSPICIOUS', required: ['process.child'] })),
    act(malicious({
      name: 'C: double fork, the grandchild runs uname -a, every 2 s (CLI)',
      command: every('double-fork', '/usr/bin/uname', '-a'),
      verdict: 'SUSPICIOUS',
      required: ['process.child'],
    })),
    act(malicious({ name: 'C: connects to 127.0.0.1:9001 (Tor), every 2 s (CLI)', command: every('connect', '127.0.0.1', '9001'), listen: ['127.0.0.1', 9001], verdict: 'SUSPICIOUS', required: ['network.port'] })),
    act(malicious({ name: 'C: connects to [::1]:9050 (Tor), every 2 s (CLI)', command: every('connect', '::1', '9050'), listen: ['::1', 9050], verdict: 'SUSPICIOUS', required: ['network.port'] })),
    act(malicious({
      name: "C: a child sends a Stratum subscribe to a local pool, every 2 s (CLI)",
      command: every('stratum', '127.0.0.1', '$POOL_PORT'),
      pool: true,
      verdict: 'SUSPICIOUS',
      required: ['network.port', 'network.outbound'],
    })),
    act(malicious({ name: 'C: code written to RW memory, then mprotect R+X, every 2 s (CLI)', command: every('unpack'), verdict: 'SUSPICIOUS', required: ['memory.wx-violation'] })),
    // the ways around W+X
    act(malicious({
      name: 'C: loads a shared library from a memfd, every 2 s (CLI)',
      command: every('memfd-load', paths.payload),
      verdict: 'MALICIOUS',
      required: ['memory.fileless-library'],
      evidence: { 'memory.fileless-library': /^file=memfd:wasmshark-lib origin=memfd / },
    })),
    act(malicious({
      name: 'C: rewrites its own code through /proc/self/mem (a dfd and "mem"), every 2 s (CLI)',
      command: every('proc-mem-self', 'relative'),
      verdict: 'MALICIOUS',
      required: ['memory.proc-mem-write'],
      evidence: { 'memory.proc-mem-write': /^target=\d+ \(itself\) path=\/proc\/\d+\/mem / },
    })),
    act(malicious({
      name: 'C: reads a credential file and closes it between two polls, every 2 s (CLI)',
      command: every('read-file', '$SECRET'),
      secret: true,
      verdict: 'SUSPICIOUS',
      required: ['file.sensitive'],
      evidence: { 'file.sensitive': /^path=\/\S+\/\.aws\/credentials fd=\d+ read / },
    })),
    // after the sandbox: io_uring, persistence and the rules Falco users expect (docs/falco-rules.md)
    act(malicious({
      name: 'C: reads /etc/shadow through an io_uring made before attaching (OPENAT, READ, CLOSE), every 2 s (CLI)',
      command: every('uring-read', '/etc/shadow'),
      verdict: 'SUSPICIOUS',
      required: ['file.sensitive'],
      evidence: { 'file.sensitive': /^path=\/etc\/shadow fd=\d+ read syscall=openat via=io_uring / },
    })),
    act(malicious({
      name: 'C: connects to 127.0.0.1:9001 (Tor) through an io_uring, every 2 s (CLI)',
      command: every('uring-connect', '127.0.0.1', '9001'),
      listen: ['127.0.0.1', 9001],
      verdict: 'SUSPICIOUS',
      required: ['network.port'],
    })),
    // persistence: written for real in a private mount namespace over empty tmpfs (trigger --scratch-root)
    act(malicious({
      name: 'C: appends a key to /root/.ssh/authorized_keys, every 2 s (CLI)',
      command: every('--scratch-root', 'append', '/root/.ssh/authorized_keys'),
      verdict: 'MALICIOUS',
      required: ['persistence.remote-access'],
      evidence: { 'persistence.remote-access': /^path=\/root\/\.ssh\/authorized_keys fd=\d+ write syscall=openat / },
    })),
    act(malicious({
      name: 'C: appends a key to /root/.ssh/authorized_keys through an io_uring, every 2 s (CLI)',
      command: every('--scratch-root', 'uring-append', '/root/.ssh/authorized_keys'),
      verdict: 'MALICIOUS',
      required: ['persistence.remote-access'],
      evidence: { 'persistence.remote-access': /^path=\/root\/\.ssh\/authorized_keys fd=\d+ write syscall=openat via=io_uring / },
    })),
    act(malicious({
      name: "C: appends a job to root's crontab, every 2 s (CLI)",
      command: every('--scratch-root', 'append', '/var/spool/cron/crontabs/root'),
      verdict: 'SUSPICIOUS',
      required: ['persistence.scheduled'],
      evidence: { 'persistence.scheduled': /^path=\/var\/spool\/cron\/crontabs\/root / },
    })),
    act(malicious({
      name: 'C: renames a systemd unit into /etc/systemd/system, every 2 s (CLI)',
      command: every('--scratch-root', 'rename-onto', '/etc/systemd/system/wasmshark-evil.service'),
      verdict: 'SUSPICIOUS',
      required: ['persistence.scheduled'],
      evidence: { 'persistence.scheduled': /path=\/etc\/systemd\/system\/wasmshark-evil\.service source=\/etc\/systemd\/system\/wasmshark-evil\.service\.new syscall=rename / },
    })),
    act(malicious({
      name: 'C: writes /etc/ld.so.preload, every 2 s (CLI)',
      command: every('--scratch-root', 'append', '/etc/ld.so.preload'),
      verdict: 'MALICIOUS',
      required: ['persistence.preload'],
      evidence: { 'persistence.preload': /^path=\/etc\/ld\.so\.preload fd=\d+ write / },
    })),
    act(malicious({
      name: 'C: truncates /var/log/auth.log, every 2 s (CLI)',
      command: every('--scratch-root', 'truncate', '/var/log/auth.log'),
      verdict: 'SUSPICIOUS',
      required: ['tamper.log'],
      evidence: { 'tamper.log': /^path=\/var\/log\/auth\.log syscall=truncate / },
    })),
    act(malicious({
      name: 'C: plants a symlink to /etc/shadow, every 2 s (CLI)',
      command: every('--scratch-root', 'symlink', '/etc/shadow', '/root/shadow-link'),
      verdict: 'SUSPICIOUS',
      required: ['file.link-sensitive'],
      evidence: { 'file.link-sensitive': /^path=\/root\/shadow-link source=\/etc\/shadow syscall=symlink / },
    })),
    act(malicious({
      name: 'C: a child runs sh with stdin/stdout on a TCP connection (reverse shell), every 2 s (CLI)',
      command: every('reverse-shell', '127.0.0.1', '18095'),
      listen: ['127.0.0.1', 18095],
      verdict: 'MALICIOUS',
      required: ['process.reverse-shell'],
      evidence: { 'process.reverse-shell': /image=\/bin\/sh .* stdio=socket$/ },
    })),
    act(malicious({ name: 'C: opens a packet socket (AF_PACKET), every 2 s (CLI)', command: every('raw-socket', 'packet'), verdict: 'SUSPICIOUS', required: ['network.packet-socket'] })),
    act(malicious({
      name: "C: reads another process's /proc/PID/environ, every 2 s (CLI)",
      command: every('read-environ'),
      verdict: 'SUSPICIOUS',
      required: ['credentials.proc-environ'],
      evidence: { 'credentials.proc-environ': /^path=\/proc\/\d+\/environ fd=\d+ syscall=openat target=\d+ / },
    })),
    act(malicious({ name: 'C: runs curl, every 2 s (CLI)', command: every('fork-exec', '/usr/bin/curl', '--version'), verdict: 'SUSPICIOUS', required: ['process.network-tool'] })),
    act(malicious({ name: 'C: loads a BPF program, every 2 s (CLI)', command: every('bpf-load'), verdict: 'SUSPICIOUS', required: ['syscall.bpf'] })),
  ];
}

module.exports = { corpus };
