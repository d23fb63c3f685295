/**
 * One timer for a session's periodic work: /proc passes, syscall samples,
 * drop checks. Work that falls due close together runs in one wake-up, and
 * work that keeps finding nothing new slows down (to its `idleMs`) until
 * something happens again: an idle monitor sleeps.
 *
 *   const clock = new Clock();
 *   const scan = clock.every(500, () => { if (!pass()) scan.quiet(); }, { idleMs: 2000 });
 *   ...on a kernel event for the target: scan.busy();
 *   clock.stop();
 *
 * The timer is unref'd: a clock alone keeps no process alive.
 */

/** Work due within this fraction of the shortest period runs in the same wake-up. */
const COALESCE = 0.25;

export interface TaskOptions {
  /** The longest the period grows to while the task reports quiet (default: the period, no slowing down). */
  idleMs?: number;
}

export class Task {
  /** The current period: from `periodMs` up to `idleMs`, doubling at each quiet run. */
  private current: number;
  /** When the task runs next (ms since the epoch), or Infinity once cancelled. */
  next: number;

  constructor(
    private readonly clock: Clock,
    readonly periodMs: number,
    readonly idleMs: number,
    readonly run: () => void,
  ) {
    this.current = periodMs;
    this.next = Date.now() + periodMs;
  }

  /** The period now: periodMs while busy, up to idleMs while quiet. */
  get currentMs(): number {
    return this.current;
  }

  /** How many base periods the current one stands for (1 when busy): a sample taken now stands for that much time. */
  get weight(): number {
    return this.current / this.periodMs;
  }

  /** The run found nothing new: wait longer next time (up to idleMs). */
  quiet(): void {
    this.current = Math.min(this.current * 2, this.idleMs);
  }

  /** Something happened: back to the base period, and run within one of them. */
  busy(): void {
    if (this.current === this.periodMs || this.next === Infinity) return;
    this.current = this.periodMs;
    this.next = Math.min(this.next, Date.now() + this.periodMs);
    this.clock.arm();
  }

  /** Called by the clock after a run. */
  reschedule(now: number): void {
    if (this.next !== Infinity) this.next = now + this.current;
  }

  cancel(): void {
    this.next = Infinity;
    this.clock.remove(this);
  }
}

export class Clock {
  private readonly tasks = new Set<Task>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private stopped = false;

  /** Runs `run` every periodMs (first after one period); it may call task.quiet() to slow down while nothing happens. */
  every(periodMs: number, run: () => void, options: TaskOptions = {}): Task {
    if (!Number.isFinite(periodMs) || periodMs < 1) throw new RangeError(`a period must be at least 1 ms, got ${String(periodMs)}`);
    const idleMs = Math.max(periodMs, options.idleMs ?? periodMs);
    const task = new Task(this, periodMs, idleMs, run);
    if (this.stopped) task.next = Infinity;
    else this.tasks.add(task);
    this.arm();
    return task;
  }

  remove(task: Task): void {
    this.tasks.delete(task);
  }

  /** Stops every task; the clock cannot be restarted. */
  stop(): void {
    this.stopped = true;
    for (const t of this.tasks) t.next = Infinity;
    this.tasks.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
  }

  /** (Re)sets the one timer for the earliest task. */
  arm(): void {
    if (this.stopped) return;
    let first = Infinity;
    for (const t of this.tasks) first = Math.min(first, t.next);
    if (first === Infinity || first >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = first;
    this.timer = setTimeout(() => this.fire(), Math.max(0, first - Date.now())).unref();
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = Date.now();
    let shortest = Infinity;
    for (const t of this.tasks) shortest = Math.min(shortest, t.periodMs);
    const horizon = now + shortest * COALESCE;
    let failure: { error: unknown } | null = null;
    for (const t of [...this.tasks]) {
      if (this.stopped) return;
      if (t.next > horizon) continue;
      try {
        t.run();
      } catch (error) {
        failure ??= { error }; // the other tasks still run, and the clock goes on
      }
      t.reschedule(Date.now());
    }
    this.arm();
    if (failure) throw failure.error;
  }
}
