#!/usr/bin/env node
/*
 * Runs the labelled scenario corpus (test/scenarios) and prints, side by
 * side, wasmshark's verdicts and those of the naive rule set: the same rules
 * with runtime awareness off, so every W+X or EXEC change counts as if no
 * runtime made it. Then precision and recall of each, where a positive is a
 * MALICIOUS or SUSPICIOUS verdict. Every row runs through the library here,
 * the one-act rows with the CLI's timing (attached after 1 s, judged for 4 s),
 * so that the naive rule set can judge the same events; npm test runs those
 * rows through the CLI itself (test/62.verdicts.test.ts).
 *
 *   sudo npm run scenarios      (needs root, `npm run build`, cc)
 *
 * Writes bench-results/scenarios.json and scenarios.md.
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const { corpus } = require(path.join(ROOT, 'test', 'scenarios', 'corpus.js'));
const { runScenario, metrics } = require(path.join(ROOT, 'test', 'scenarios', 'run.js'));
const { floorDecided } = require(path.join(ROOT, 'dist', 'score.js'));

function compile(source, out, flags = []) {
  execFileSync('cc', ['-O2', '-pthread', source, '-o', out, ...flags]);
  return out;
}

async function main() {
  if (process.getuid() !== 0) {
    console.error('scenarios: needs root to load BPF programs (sudo npm run scenarios)');
    process.exit(1);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-scenarios-'));
  const nodeInclude = path.join(path.dirname(process.execPath), '..', 'include', 'node');
  const paths = {
    node: process.execPath,
    bun: path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
    workerd: path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'),
    deno: path.join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc', 'deno'),
    trigger: compile(path.join(ROOT, 'test', 'fixtures', 'trigger.c'), path.join(work, 'trigger')),
    evilAddon: compile(path.join(ROOT, 'test', 'scenarios', 'workloads', 'evil-addon.c'), path.join(work, 'evil-addon.node'), [
      '-shared',
      '-fPIC',
      `-I${nodeInclude}`,
    ]),
    payload: compile(path.join(ROOT, 'test', 'fixtures', 'payload.c'), path.join(work, 'payload.so'), ['-shared', '-fPIC']),
  };
  const rows = [];
  try {
    for (const s of corpus(paths)) {
      const { report, naive } = await runScenario(s);
      rows.push({
        name: s.name,
        label: s.label,
        expected: s.verdict,
        verdict: report.verdict,
        score: report.threat_score,
        // what decided the score: the sum, or the alert that set the floor
        decidedBy: floorDecided(report.score_breakdown) ? `floor: ${report.score_breakdown.floor.level} ${report.score_breakdown.floor.rule}` : 'sum',
        naiveVerdict: naive.verdict,
        naiveScore: naive.score,
      });
      process.stderr.write(`${s.name}: ${report.verdict} ${report.threat_score} (naive ${naive.verdict} ${naive.score})\n`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const ours = metrics(rows, (r) => r.verdict);
  const naive = metrics(rows, (r) => r.naiveVerdict);
  const pct = (x) => `${(100 * x).toFixed(0)}%`;
  const md = [
    '| scenario | label | expected | wasmshark | score from | naive |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.label} | ${r.expected} | ${r.verdict} (${r.score}) | ${r.decidedBy} | ${r.naiveVerdict} (${r.naiveScore}) |`),
    '',
    '| rule set | precision | recall | TP | FP | FN | TN |',
    '|---|---|---|---|---|---|---|',
    `| wasmshark (runtime-aware) | ${pct(ours.precision)} | ${pct(ours.recall)} | ${ours.tp} | ${ours.fp} | ${ours.fn} | ${ours.tn} |`,
    `| naive (every W+X / EXEC change) | ${pct(naive.precision)} | ${pct(naive.recall)} | ${naive.tp} | ${naive.fp} | ${naive.fn} | ${naive.tn} |`,
  ].join('\n');
  const dir = path.join(ROOT, 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'scenarios.json'), JSON.stringify({ when: new Date().toISOString(), rows, ours, naive }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'scenarios.md'), md + '\n');
  console.log(md);
}

main().catch((err) => {
  console.error(`scenarios: ${err.message}`);
  process.exit(1);
});
