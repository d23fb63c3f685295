/**
 * Joins each EV_STACK record to the event it follows. The kernel reserves a
 * stack record right after its event's (same tid, same timestamp), so the two
 * are neighbours in the ring; only a batch that ends between them parts them.
 * The last event of a batch that may have a stack coming is held back until
 * the next batch or flush(), so a rule sees the event with its stack.
 */
import type { KernelEvent } from '../../events';

/** Kinds whose events the kernel may follow with a stack (src: the emit_stack() callers). */
const WALKED = new Set<KernelEvent['kind']>(['exec', 'connect', 'mmap', 'mprotect', 'memfd', 'anon-syscall', 'syscall', 'open', 'fork']);
/** How far back a stack looks for its event: records of other CPUs may sit between them. */
const LOOK_BACK = 16;

function mayHaveStack(e: KernelEvent): boolean {
  return WALKED.has(e.kind) && !e.userStack && !(e.kind === 'fork' && e.thread);
}

export class StackJoiner {
  private held: KernelEvent | null = null;

  /** A batch's events in ring order; returns those that can be delivered now (stacks joined). */
  push(events: KernelEvent[]): KernelEvent[] {
    const all = this.held ? [this.held, ...events] : events;
    this.held = null;
    for (let i = 0; i < all.length; i++) {
      const s = all[i];
      if (s.kind !== 'stack') continue;
      for (let j = i - 1; j >= 0 && j >= i - LOOK_BACK; j--) {
        const e = all[j];
        if (e.kind !== 'stack' && e.tid === s.tid && e.timeNs === s.timeNs && e.kind === s.eventKind && !e.userStack) {
          e.userStack = s.scan ? { frames: s.frames, error: s.error, scan: s.scan } : { frames: s.frames, error: s.error };
          break;
        }
      }
    }
    const last = all[all.length - 1];
    if (last && mayHaveStack(last)) {
      this.held = last;
      return all.slice(0, -1);
    }
    return all;
  }

  /** Whether an event is waiting for a stack that may come with the next batch. */
  get holding(): boolean {
    return this.held !== null;
  }

  /** The held event, if any, without its stack. */
  flush(): KernelEvent[] {
    const held = this.held;
    this.held = null;
    return held ? [held] : [];
  }
}
