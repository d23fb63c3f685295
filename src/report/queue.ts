/**
 * Reports of the watch's runtimes, written to a directory one at a time off
 * the event path: a runtime's exit is handled inside a batch of kernel
 * events, and a disk that stalls must not stall them. Bounded: past
 * `maxPending` reports waiting, a new one is not queued (counted, and the
 * caller still has it in hand).
 */
import * as path from 'path';
import { checkOutputPath, writeReport } from './write';
import type { Report } from './index';
import type { FileOwner } from '../user';

export interface QueuedReport<T> {
  report: Report;
  /** File name inside the directory. */
  name: string;
  /** Handed back with the outcome. */
  tag: T;
}

export class ReportQueue<T> {
  private readonly pending: Array<QueuedReport<T>> = [];
  private scheduled: NodeJS.Immediate | null = null;
  written = 0;
  failed = 0;
  dropped = 0;

  /**
   * `onDone` gets the path written, or the error. The directory is checked
   * now (it must exist and take a file), so a bad one fails before anything runs.
   */
  constructor(
    readonly dir: string,
    private readonly maxPending: number,
    private readonly onDone: (item: QueuedReport<T>, file: string | null, error: Error | null) => void,
    /** Whose the files are (under sudo, the invoking user's). */
    private readonly owner: FileOwner | null = null,
  ) {
    checkOutputPath(path.join(dir, '<pid>-<starttime>.json'), owner);
  }

  get size(): number {
    return this.pending.length;
  }

  /** Queues a report; false when the queue is full (the report is not written). */
  push(item: QueuedReport<T>): boolean {
    if (this.pending.length >= this.maxPending) {
      this.dropped++;
      return false;
    }
    this.pending.push(item);
    this.scheduled ??= setImmediate(() => this.drain());
    return true;
  }

  /** Writes one report per turn of the event loop until none is left. */
  private drain(): void {
    this.scheduled = null;
    const item = this.pending.shift();
    if (item) this.write(item);
    if (this.pending.length > 0) this.scheduled = setImmediate(() => this.drain());
  }

  /** Writes everything still waiting, now (the watch is ending). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    for (let item = this.pending.shift(); item; item = this.pending.shift()) this.write(item);
  }

  private write(item: QueuedReport<T>): void {
    const file = path.join(this.dir, item.name);
    try {
      writeReport(file, item.report, this.owner);
    } catch (err) {
      this.failed++;
      this.onDone(item, null, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.written++;
    this.onDone(item, file, null);
  }
}
