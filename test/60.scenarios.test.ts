/**
 * The labelled scenario corpus end to end, through the library: benign
 * runtimes doing JIT work must stay CLEAN with no HIGH or CRITICAL alert;
 * each attack must get its declared verdict and required alerts; every
 * score must be recomputable from its breakdown. (The one-act rows run
 * through the CLI in test/62.)
 */
import type { Report } from '../src/report';
import { describeBpf } from './helpers/env';
import { expectEvidence, scenarioPaths } from './helpers/scenarios';
import { expectScoreExplained } from './helpers/score';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { corpus } = require('./scenarios/corpus.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runScenario } = require('./scenarios/run.js');

interface Scenario {
  name: string;
  label: 'benign' | 'malicious';
  verdict: string;
  required: string[];
  evidence?: Record<string, RegExp>;
  cli?: boolean;
}

describeBpf('scenario corpus', () => {
  const scenarios: Scenario[] = corpus(scenarioPaths).filter((s: Scenario) => !s.cli);

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_name, s) => {
    const { report }: { report: Report } = await runScenario(s);
    const rules = report.alerts.map((a) => a.rule);
    // on failure, say what was seen
    const seen = report.alerts.map((a) => `${a.level} ${a.rule} ${a.evidence}`);
    const serious = report.alerts.filter((a) => a.level === 'HIGH' || a.level === 'CRITICAL');
    if (s.label === 'benign') {
      expect({ serious, verdict: report.verdict }).toEqual({ serious: [], verdict: 'CLEAN' });
    } else {
      expect({ verdict: report.verdict, rules, seen }).toEqual({ verdict: s.verdict, rules: expect.arrayContaining(s.required), seen });
      expectEvidence(s, report.alerts);
    }
    expectScoreExplained(report);
    expect(report.drops.total).toBe(0);
  }, 60000);
});
