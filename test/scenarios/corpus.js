/**
 * The labelled scenario corpus: real runtimes doing their normal JIT work
 * (benign), and attacks inside or beside them (malicious). Each declares the
 * verdict it must get and the alerts (rule ids) it must raise. Used by
 * test/60.scenarios.test.ts and scripts/scenarios.js.
 *
 * `paths` gives the programs: node, bun, workerd, trigger (test/fixtures/trigger.c),
 * evilAddon (workloads/evil-addon.c built as a Node addon).
 */
'use strict';
const path = require('path');

const W = (f) => path.join(__dirname, 'workloads', f);

function corpus(paths) {
  const benign = (over) => ({ label: 'benign', verdict: 'CLEAN', required: [], ...over });
  const malicious = (over) => ({ label: 'malicious', ...over });
  return [
    benign({ name: 'node: WASM workload, launched', command: [paths.node, W('wasm-loop.js'), '1500'] }),
    benign({ name: 'node: WASM workload, attached after warm-up', command: [paths.node, W('wasm-loop.js'), '4000'], attachAfterMs: 1500 }),
    benign({ name: 'bun: WASM workload, launched', command: [paths.bun, W('wasm-loop.js'), '1500'] }),
    benign({ name: 'bun: WASM workload, attached after warm-up', command: [paths.bun, W('wasm-loop.js'), '4000'], attachAfterMs: 1500 }),
    benign({ name: 'workerd: WASM worker serving requests, launched', command: [paths.workerd, 'serve', '$CONFIG'], workerd: true }),
    benign({ name: 'workerd: WASM worker, attached after warm-up', command: [paths.workerd, 'serve', '$CONFIG'], workerd: true, attachAfterMs: 1 }),
    benign({ name: 'C: syscall-heavy program (mmap/munmap loop)', command: [paths.trigger, 'churn', '1000000'] }),

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
    malicious({ name: 'node: runtime spawns a shell', command: [paths.node, W('node-spawn-shell.js')], verdict: 'SUSPICIOUS', required: ['process.shell'] }),
    malicious({
      name: "node: runtime's child subscribes to a Stratum mining pool",
      command: [paths.node, W('node-child-miner.js'), '$POOL_PORT'],
      pool: true,
      verdict: 'SUSPICIOUS',
      required: ['network.port', 'process.shell'],
    }),
    malicious({
      name: "node: runtime's child executes a payload from memfd",
      command: [paths.node, W('node-memfd-child.js'), paths.trigger],
      verdict: 'SUSPICIOUS',
      required: ['process.fileless'],
    }),
  ];
}

module.exports = { corpus };
