/**
 * Threat score and verdict, as the seed defines them:
 * CRITICAL +30, HIGH +15, MEDIUM +5 for each distinct alert (after
 * deduplication), +40 for each W+X memory region, +20 once for exposed SSH
 * credentials; capped at 100. LOW and INFO alerts do not count.
 */
import type { Alert, Level } from './alerts';

export type Verdict = 'MALICIOUS' | 'SUSPICIOUS' | 'POTENTIALLY_UNWANTED' | 'CLEAN';

export const LEVEL_POINTS: Record<Level, number> = { CRITICAL: 30, HIGH: 15, MEDIUM: 5, LOW: 0, INFO: 0 };
export const WX_REGION_POINTS = 40;
export const SSH_POINTS = 20;

export interface ScoreInput {
  alerts: Alert[];
  /** W+X memory regions observed (each creation, from either source). */
  wxRegions: number;
}

export function threatScore({ alerts, wxRegions }: ScoreInput): number {
  let score = alerts.reduce((sum, a) => sum + LEVEL_POINTS[a.level], 0);
  score += WX_REGION_POINTS * wxRegions;
  if (alerts.some((a) => a.ssh && LEVEL_POINTS[a.level] > 0)) score += SSH_POINTS;
  return Math.min(100, score);
}

export function verdict(score: number): Verdict {
  if (score >= 70) return 'MALICIOUS';
  if (score >= 40) return 'SUSPICIOUS';
  if (score >= 15) return 'POTENTIALLY_UNWANTED';
  return 'CLEAN';
}
