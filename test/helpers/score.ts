/**
 * Recomputes a report's threat score from its score_breakdown alone, with the
 * rule as the README states it, and checks the breakdown against the alerts
 * it claims to explain. Written apart from src/score.ts on purpose: a test
 * that reused the code under test could not catch it being wrong.
 */
import type { Report } from '../../src/report';

const POINTS: Record<string, number> = { CRITICAL: 30, HIGH: 15, MEDIUM: 5 };
const FLOOR: Record<string, number> = { CRITICAL: 70, HIGH: 40 };

function verdictOf(score: number): string {
  return score >= 70 ? 'MALICIOUS' : score >= 40 ? 'SUSPICIOUS' : score >= 15 ? 'POTENTIALLY_UNWANTED' : 'CLEAN';
}

/** What a reader gets from the breakdown: the score and the verdict. */
export function recompute(report: Report): { score: number; verdict: string } {
  const b = report.score_breakdown;
  const sum = b.contributions.reduce((s, c) => s + c.points, 0) + b.wx.points + b.ssh.points;
  const floor = b.floor ? b.floor.points : 0;
  const score = Math.min(100, Math.max(sum, floor));
  return { score, verdict: verdictOf(score) };
}

/** Expects the breakdown to add up, to agree with the alerts, and to give the report's score and verdict. */
export function expectScoreExplained(report: Report): void {
  const b = report.score_breakdown;
  // each contribution is an alert of the report, at its level's points
  const scored = report.alerts.filter((a) => POINTS[a.level]).map((a) => ({ rule: a.rule, key: a.key, level: a.level, points: POINTS[a.level] }));
  expect(b.contributions.map(({ rule, key, level, points }) => ({ rule, key, level, points }))).toEqual(scored);
  expect(b.wx).toEqual({ regions: report.rwx_regions, points: 40 * report.rwx_regions });
  expect(b.ssh.points).toBe(b.ssh.rule === null ? 0 : 20);
  expect(b.sum).toBe(b.contributions.reduce((s, c) => s + c.points, 0) + b.wx.points + b.ssh.points);
  // the floor is the worst behaviour alert's
  const behaviour = b.contributions.filter((c) => !c.exposure);
  const worst = Math.max(0, ...behaviour.map((c) => FLOOR[c.level] ?? 0));
  if (worst === 0) {
    expect(b.floor).toBeNull();
  } else {
    expect(b.floor?.points).toBe(worst);
    expect(behaviour).toContainEqual(expect.objectContaining({ rule: b.floor?.rule, key: b.floor?.key, level: b.floor?.level }));
  }
  const { score, verdict } = recompute(report);
  expect({ score: b.score, threat_score: report.threat_score, verdict: report.verdict }).toEqual({ score, threat_score: score, verdict });
}
