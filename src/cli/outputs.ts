/**
 * The line outputs both modes share: NDJSON on stdout (--format ndjson) and
 * syslog (--syslog). Each gets the same line objects.
 */
import type { Line } from '../output/lines';
import { NdjsonSink } from '../output/ndjson';
import { DEFAULT_SYSLOG_SOCKET, SyslogSink } from '../output/syslog';
import type { CliArgs } from './args';
import type { Io } from './io';

export interface Outputs {
  ndjson?: NdjsonSink;
  syslog?: SyslogSink;
  /** Whether anything takes lines at all (else building them is skipped). */
  readonly any: boolean;
  line(l: Line): void;
  close(): void;
}

/** Throws a one-line error when the syslog socket is missing. */
export function openOutputs(args: CliArgs, io: Io, warn: (message: string) => void): Outputs {
  const ndjson = args.format === 'ndjson' ? new NdjsonSink(io.out) : undefined;
  const syslog = args.syslog ? new SyslogSink(args.syslogSocket ?? DEFAULT_SYSLOG_SOCKET, warn) : undefined;
  return {
    ndjson,
    syslog,
    any: ndjson !== undefined || syslog !== undefined,
    line(l: Line) {
      ndjson?.write(l);
      syslog?.write(l);
    },
    close() {
      syslog?.close();
    },
  };
}

/** What the outputs lost, for the end of the run (nothing when nothing was lost). */
export function outputLosses(o: Outputs): string[] {
  const out: string[] = [];
  if (o.ndjson && o.ndjson.dropped > 0) out.push(`${o.ndjson.dropped} NDJSON lines dropped (stdout was not being read)`);
  if (o.syslog && o.syslog.dropped > 0) out.push(`${o.syslog.dropped} syslog messages dropped (${o.syslog.path} did not take them)`);
  return out;
}
