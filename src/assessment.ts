/**
 * Findings in, alerts and score out: deduplication, W+X region accounting,
 * and the memory the kernel saw being made executable (so /proc regions
 * inside it are not counted twice). The monitor keeps one; a second one can
 * judge the same events under other rules (scripts/scenarios.js does).
 */
import { AlertBook, type Alert, type Finding } from './alerts';
import { LEVEL_POINTS, scoreBreakdown, type ScoreBreakdown } from './score';

const MAX_RANGES_PER_PID = 4096;

export class Assessment {
  private readonly book: AlertBook;
  private regions = 0;
  private readonly kernelRanges = new Map<number, Array<{ start: number; end: number }>>();

  /** `maxAlerts`: distinct alerts kept (see AlertBook). */
  constructor(maxAlerts?: number) {
    this.book = new AlertBook(maxAlerts);
  }

  /** Adds a finding; returns the alert when it is a new one. `length` is the memory event's length, if any. */
  add(f: Finding, length = 0): Alert | null {
    if (f.wxRegion && LEVEL_POINTS[f.level] > 0) {
      this.regions++;
      if (f.wxRegion.from === 'kernel') this.noteRange(f.pid, f.wxRegion.start, f.wxRegion.start + Math.max(length, 1));
    }
    if (f.jitRange) this.noteRange(f.pid, f.jitRange.start, f.jitRange.end);
    return this.book.add(f);
  }

  /** A finding with a measured count (see AlertBook.set); returns the alert when it is a new one. */
  set(f: Finding, count: number, now = Date.now()): Alert | null {
    return this.book.set(f, count, now);
  }

  private noteRange(pid: number, start: number, end: number): void {
    let ranges = this.kernelRanges.get(pid);
    if (!ranges) this.kernelRanges.set(pid, (ranges = []));
    // keep the newest: drop the older half at once rather than shifting on every event
    if (ranges.length >= MAX_RANGES_PER_PID) ranges.splice(0, MAX_RANGES_PER_PID / 2);
    ranges.push({ start, end });
  }

  /** A process has exited: its memory is gone, and so is what was noted about it. */
  forget(pid: number): void {
    this.kernelRanges.delete(pid);
  }

  /** Whether the kernel reported how memory overlapping [start, end) of pid was made. */
  kernelSawRegion(pid: number, start: number, end: number): boolean {
    return (this.kernelRanges.get(pid) ?? []).some((r) => r.start < end && start < r.end);
  }

  alerts(): Alert[] {
    return this.book.all();
  }

  /** Findings with a new key not kept because the alert book was full. */
  get cappedAlerts(): number {
    return this.book.capped;
  }

  /** W+X memory regions counted towards the score. */
  get wxRegions(): number {
    return this.regions;
  }

  score(): number {
    return this.breakdown().score;
  }

  /** The score with what it is made of. */
  breakdown(): ScoreBreakdown {
    return scoreBreakdown({ alerts: this.book.all(), wxRegions: this.regions });
  }
}
