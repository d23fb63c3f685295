/**
 * Threat score and verdict. The sum is the seed's: CRITICAL +30, HIGH +15,
 * MEDIUM +5 for each distinct alert (after deduplication), +40 for each W+X
 * memory region, +20 once for exposed SSH credentials; LOW and INFO add
 * nothing. The worst behaviour alert sets a floor: CRITICAL 70, HIGH 40.
 * Exposure alerts (what the process could reach, not what it did) add their
 * points and set no floor.
 *
 *   threat_score = min(100, max(sum, floor))
 *
 * Why the floor: the seed's weights assumed every occurrence is an alert;
 * after deduplication one decisive act (a shell, a fileless exec, a Tor
 * connection) would otherwise never reach SUSPICIOUS.
 */
import type { Alert, Level } from './alerts';

export type Verdict = 'MALICIOUS' | 'SUSPICIOUS' | 'POTENTIALLY_UNWANTED' | 'CLEAN';

export const LEVEL_POINTS: Record<Level, number> = { CRITICAL: 30, HIGH: 15, MEDIUM: 5, LOW: 0, INFO: 0 };
export const FLOOR_POINTS: Record<Level, number> = { CRITICAL: 70, HIGH: 40, MEDIUM: 0, LOW: 0, INFO: 0 };
export const WX_REGION_POINTS = 40;
export const SSH_POINTS = 20;
export const MAX_SCORE = 100;

export interface ScoreInput {
  alerts: Alert[];
  /** W+X memory regions observed (each creation, from either source). */
  wxRegions: number;
}

/** One distinct alert's part of the sum. */
export interface ScoreContribution {
  rule: string;
  /** The alert's deduplication key: with the rule, it names the alert. */
  key: string;
  /** The level the alert was scored at (after any override from a rules file). */
  level: Level;
  /** An exposure alert: its points count, it sets no floor. */
  exposure: boolean;
  points: number;
}

/** Everything the score is made of, so that a reader can recompute it. */
export interface ScoreBreakdown {
  /** The alerts that add points, in alert order (LOW and INFO add none and are not listed). */
  contributions: ScoreContribution[];
  /** W+X memory regions, and the points they add (40 each). */
  wx: { regions: number; points: number };
  /** SSH credentials exposed: 20 points once, and the first alert that showed it. */
  ssh: { points: number; rule: string | null; key: string | null };
  /** contributions + wx + ssh, before the floor and the cap. */
  sum: number;
  /** The minimum the worst behaviour alert sets, and that alert; null when none sets one. */
  floor: { points: number; rule: string; key: string; level: Level } | null;
  /** min(100, max(sum, floor)). */
  score: number;
}

export function scoreBreakdown({ alerts, wxRegions }: ScoreInput): ScoreBreakdown {
  const contributions: ScoreContribution[] = alerts
    .filter((a) => LEVEL_POINTS[a.level] > 0)
    .map((a) => ({ rule: a.rule, key: a.key, level: a.level, exposure: a.exposure === true, points: LEVEL_POINTS[a.level] }));
  const wx = { regions: wxRegions, points: WX_REGION_POINTS * wxRegions };
  const sshAlert = alerts.find((a) => a.ssh && LEVEL_POINTS[a.level] > 0);
  const ssh = sshAlert ? { points: SSH_POINTS, rule: sshAlert.rule, key: sshAlert.key } : { points: 0, rule: null, key: null };
  const sum = contributions.reduce((total, c) => total + c.points, 0) + wx.points + ssh.points;

  let floor: ScoreBreakdown['floor'] = null;
  for (const c of contributions) {
    const points = FLOOR_POINTS[c.level];
    if (!c.exposure && points > (floor?.points ?? 0)) floor = { points, rule: c.rule, key: c.key, level: c.level };
  }
  return { contributions, wx, ssh, sum, floor, score: Math.min(MAX_SCORE, Math.max(sum, floor?.points ?? 0)) };
}

export function threatScore(input: ScoreInput): number {
  return scoreBreakdown(input).score;
}

/** Whether the floor, not the sum, decided the score. */
export function floorDecided(b: Pick<ScoreBreakdown, 'sum' | 'floor'>): boolean {
  return b.floor !== null && b.floor.points > b.sum;
}

export function verdict(score: number): Verdict {
  if (score >= 70) return 'MALICIOUS';
  if (score >= 40) return 'SUSPICIOUS';
  if (score >= 15) return 'POTENTIALLY_UNWANTED';
  return 'CLEAN';
}
