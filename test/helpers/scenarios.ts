/**
 * The programs the scenario corpus (test/scenarios/corpus.js) runs: the real
 * runtimes from node_modules, and the C fixtures, compiled on first use.
 */
import * as path from 'path';
import { buildFixture, ROOT, trigger } from './env';

const nodeInclude = path.join(path.dirname(process.execPath), '..', 'include', 'node');

export const scenarioPaths = {
  node: process.execPath,
  bun: path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
  workerd: path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'),
  deno: path.join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc', 'deno'),
  get trigger() {
    return trigger();
  },
  get evilAddon() {
    return buildFixture('test/scenarios/workloads/evil-addon.c', ['-shared', '-fPIC', `-I${nodeInclude}`]);
  },
};
