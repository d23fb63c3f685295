/**
 * The CLI's one way of being stopped: the first SIGINT, SIGTERM or SIGHUP
 * asks the running job to finish (its reports are still written); a second
 * quits at once. Every mode (one target, the watch, the demo) uses it.
 *
 *   const release = onStopSignals(io, {
 *     stopping: 'writing the report',
 *     quitting: 'without a report',
 *     stop: () => void m.stop('interrupted'),
 *   });
 *   ...
 *   release();
 */
import type { Io } from './io';

export interface StopSignalHandlers {
  /** What the first signal leads to, as told: "stopping, <stopping> (again to quit at once)". */
  stopping: string;
  /** What quitting at the second leaves undone: "quitting <quitting>". */
  quitting: string;
  stop(): void;
  /** Called before anything is written (a progress line to clear). */
  beforeWrite?(): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Installs the handlers; returns the function that removes them. */
export function onStopSignals(io: Io, h: StopSignalHandlers): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    h.beforeWrite?.();
    if (received > 1) {
      io.err.write(`wasmshark: ${signal} again: quitting ${h.quitting}\n`);
      process.exit(130);
    }
    io.err.write(`wasmshark: ${signal}: stopping, ${h.stopping} (again to quit at once)\n`);
    h.stop();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return () => {
    for (const s of SIGNALS) process.off(s, onSignal);
  };
}
