/**
 * The labelled scenario corpus end to end: benign runtimes doing JIT work
 * must stay CLEAN with no HIGH or CRITICAL alert; each attack must get its
 * declared verdict and required alerts.
 */
import * as path from 'path';
import { buildFixture, describeBpf, ROOT, trigger } from './helpers/env';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { corpus } = require('./scenarios/corpus.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runScenario } = require('./scenarios/run.js');

interface Scenario {
  name: string;
  label: 'benign' | 'malicious';
  verdict: string;
  required: string[];
}

const nodeInclude = path.join(path.dirname(process.execPath), '..', 'include', 'node');
const paths = {
  node: process.execPath,
  bun: path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
  workerd: path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'),
  get trigger() {
    return trigger();
  },
  get evilAddon() {
    return buildFixture('test/scenarios/workloads/evil-addon.c', ['-shared', '-fPIC', `-I${nodeInclude}`]);
  },
};

describeBpf('scenario corpus', () => {
  const scenarios: Scenario[] = corpus(paths);

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_name, s) => {
    const { report } = await runScenario(s);
    const rules = report.alerts.map((a: { rule: string }) => a.rule);
    // on failure, say what was seen
    const seen = report.alerts.map((a: { level: string; rule: string; evidence: string }) => `${a.level} ${a.rule} ${a.evidence}`);
    const serious = report.alerts.filter((a: { level: string }) => a.level === 'HIGH' || a.level === 'CRITICAL');
    if (s.label === 'benign') {
      expect({ serious, verdict: report.verdict }).toEqual({ serious: [], verdict: 'CLEAN' });
    } else {
      expect({ verdict: report.verdict, rules, seen }).toEqual({ verdict: s.verdict, rules: expect.arrayContaining(s.required), seen });
    }
    expect(report.drops.total).toBe(0);
  }, 60000);
});
