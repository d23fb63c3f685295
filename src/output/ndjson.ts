/**
 * NDJSON on a stream (stdout): one line per object. A reader that stops
 * reading (a stalled pipe) must not grow wasmshark's memory: past `maxBuffered`
 * bytes waiting in the stream, lines are dropped and counted.
 */
import { lineJson, type Line } from './lines';

export interface LineSink {
  write(line: Line): void;
  /** Lines handed on, and lines lost (the receiver could not take them). */
  readonly sent: number;
  readonly dropped: number;
  close(): void;
}

const MAX_BUFFERED = 16 << 20;

export class NdjsonSink implements LineSink {
  sent = 0;
  dropped = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream & { writableLength?: number },
    private readonly maxBuffered = MAX_BUFFERED,
  ) {}

  write(line: Line): void {
    if ((this.stream.writableLength ?? 0) > this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.stream.write(`${lineJson(line)}\n`);
    this.sent++;
  }

  close(): void {
    // stdout is not ours to close
  }
}
