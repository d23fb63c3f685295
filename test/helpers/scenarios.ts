/**
 * The programs the scenario corpus (test/scenarios/corpus.js) runs: the real
 * runtimes from node_modules, and the C fixtures, compiled on first use.
 */
import * as path from 'path';
import { buildFixture, ROOT, trigger, wasmtimeVenv } from './env';

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
  get payload() {
    return buildFixture('test/fixtures/payload.c', ['-shared', '-fPIC']);
  },
  /** Python with wasmtime from pip, in a venv of the tests' own. */
  get wasmtimePython() {
    return wasmtimeVenv().python;
  },
  /** The wasmtime C API library that pip wheel carries. */
  get libwasmtime() {
    return wasmtimeVenv().library;
  },
  /** A C program driving that library through its C API (test/fixtures/wasmtime-host.c). */
  get wasmtimeHost() {
    return buildFixture('wasmtime-host', ['-ldl']);
  },
};

/** Each rule a row lists under `evidence` raised an alert whose evidence names what the row says (the file, the process). */
export function expectEvidence(s: { evidence?: Record<string, RegExp> }, alerts: Array<{ rule: string; evidence: string }>): void {
  for (const [rule, pattern] of Object.entries(s.evidence ?? {})) {
    const said = alerts.filter((a) => a.rule === rule).map((a) => a.evidence);
    expect({ rule, said: said.some((e) => pattern.test(e)) ? pattern : said }).toEqual({ rule, said: pattern });
  }
}
