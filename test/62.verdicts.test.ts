/**
 * One decisive act is enough. Each target repeats its one act every 2 s, is
 * attached after 1 s and judged through the CLI, as an analyst runs it:
 * `wasmshark --pid N --bpf --timeout 4 --output r.json`. Each must get the
 * verdict its row declares; the benign ones stay CLEAN with no HIGH or
 * CRITICAL alert. The console names what decided the score, and the
 * report's breakdown recomputes it.
 */
import type { Report } from '../src/report';
import { describeBpf } from './helpers/env';
import { expectEvidence, scenarioPaths } from './helpers/scenarios';
import { expectScoreExplained } from './helpers/score';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { corpus } = require('./scenarios/corpus.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runCli } = require('./scenarios/run.js');

interface Act {
  name: string;
  label: 'benign' | 'malicious';
  verdict: string;
  required: string[];
  evidence?: Record<string, RegExp>;
  cli?: boolean;
  timeout: number;
}

describeBpf('verdicts through the CLI: one act every 2 s, attached after 1 s', () => {
  const acts: Act[] = corpus(scenarioPaths).filter((s: Act) => s.cli);

  it('covers every act of the table and the benign runtimes beside them', () => {
    expect(acts.filter((s) => s.label === 'malicious')).toHaveLength(26);
    expect(acts.filter((s) => s.label === 'benign').map((s) => s.name.split(':')[0])).toEqual(['deno', 'node', 'C', 'wasmtime']);
  });

  it.each(acts.map((s) => [s.name, s] as const))('%s', async (_name, s) => {
    const { code, stdout, stderr, report }: { code: number; stdout: string; stderr: string; report: Report | null } = await runCli(s);
    expect({ code, stderr }).toMatchObject({ code: 0 }); // stderr shown if not
    expect(report).not.toBeNull();
    const r = report!;
    expect(r).toMatchObject({ bpf_used: true, end_reason: 'timeout' });
    const seen = r.alerts.map((a) => `${a.level} ${a.rule} ${a.evidence}`);
    const serious = r.alerts.filter((a) => a.level === 'HIGH' || a.level === 'CRITICAL');
    if (s.label === 'benign') {
      expect({ serious, verdict: r.verdict }).toEqual({ serious: [], verdict: 'CLEAN' });
    } else {
      expect({ verdict: r.verdict, rules: r.alerts.map((a) => a.rule), seen }).toEqual({
        verdict: s.verdict,
        rules: expect.arrayContaining(s.required),
        seen,
      });
      expectEvidence(s, r.alerts);
    }
    expectScoreExplained(r);

    const b = r.score_breakdown;
    const line = stdout.split('\n').find((l) => l.startsWith('Threat Score'));
    const note = b.floor && b.floor.points > b.sum ? `  (floor: ${b.floor.level} ${b.floor.rule})` : '';
    expect(line).toBe(`Threat Score   : ${r.threat_score.toFixed(1)}/100${note}`);
    if (s.label === 'malicious') expect(note).not.toBe(''); // one act: the floor decides
    expect(r.drops.total).toBe(0);
  }, 60000);
});
