/**
 * A JIT's symbol map, /tmp/perf-PID.map: one "START SIZE NAME" line (hex
 * numbers) per piece of generated code, appended as the runtime compiles.
 * V8 writes it with --perf-basic-prof, wasmtime with --profile=perfmap.
 *
 * The file is the target's own writing: it is read incrementally from where
 * the last read stopped, bounded in bytes, lines and name length; a line
 * that does not parse is skipped; it is opened without following a symlink
 * and only if it is a regular file. What it says only names frames: no
 * verdict depends on it.
 */
import * as fs from 'fs';

export interface PerfMapLimits {
  /** Bytes of the file read at most, over all reads. */
  bytes: number;
  /** Entries kept at most. */
  entries: number;
  /** Characters of a line at most (longer lines are skipped). */
  line: number;
}

export const DEFAULT_PERF_MAP_LIMITS: Readonly<PerfMapLimits> = Object.freeze({ bytes: 64 << 20, entries: 1 << 18, line: 1024 });

/** Bytes read per refresh, so one lookup never reads a huge file at once. */
const CHUNK = 1 << 20;
const LINE = /^([0-9a-fA-F]{1,16}) ([0-9a-fA-F]{1,8}) ([^\x00-\x1f\x7f]{1,})$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

export function perfMapPath(pid: number): string {
  return `/tmp/perf-${pid}.map`;
}

/** One line of a perf map, or null: start and size as numbers (start below 2^53), the name as written. */
export function parsePerfMapLine(line: string, maxLine = DEFAULT_PERF_MAP_LIMITS.line): { start: number; size: number; name: string } | null {
  if (line.length > maxLine) return null;
  const m = LINE.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
  if (!m) return null;
  const start = parseInt(m[1], 16);
  const size = parseInt(m[2], 16);
  if (!Number.isSafeInteger(start) || size === 0 || start + size > Number.MAX_SAFE_INTEGER) return null;
  const name = m[3].trim();
  if (!name || CONTROL.test(name)) return null;
  return { start, size, name };
}

export class PerfMap {
  private starts: number[] = [];
  private ends: number[] = [];
  private names: string[] = [];
  private offset = 0;
  private partial = '';
  /** Lines skipped because they did not parse or were too long. */
  rejected = 0;
  /** Whether a limit stopped the reading (the map names what came before it). */
  capped = false;
  /** Whether the file has been found (it may appear later: the runtime writes it at its first compilation). */
  found = false;

  constructor(
    readonly path: string,
    private readonly limits: PerfMapLimits = DEFAULT_PERF_MAP_LIMITS,
  ) {}

  get size(): number {
    return this.starts.length;
  }

  /** Reads what was appended since the last read. */
  refresh(): void {
    if (this.capped) return;
    let fd: number;
    try {
      fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch {
      return;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return;
      this.found = true;
      if (st.size < this.offset) this.reset(); // rewritten from the start
      const buf = Buffer.alloc(CHUNK);
      while (this.offset < st.size) {
        if (this.offset >= this.limits.bytes) {
          this.capped = true;
          break;
        }
        const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, this.limits.bytes - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.take(buf.toString('latin1', 0, n));
        if (this.capped) break;
      }
    } catch {
      // unreadable now: what was read stands
    } finally {
      fs.closeSync(fd);
    }
  }

  private reset(): void {
    this.starts = [];
    this.ends = [];
    this.names = [];
    this.offset = 0;
    this.partial = '';
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > this.limits.line) {
      this.partial = '';
      this.rejected++;
    }
    for (const line of lines) {
      if (line === '') continue;
      const e = parsePerfMapLine(line, this.limits.line);
      if (!e) {
        this.rejected++;
        continue;
      }
      if (this.starts.length >= this.limits.entries) {
        this.capped = true;
        return;
      }
      this.starts.push(e.start);
      this.ends.push(e.start + e.size);
      // V8 writes names as latin1 bytes of UTF-8 text
      this.names.push(Buffer.from(e.name, 'latin1').toString('utf8'));
    }
  }

  /**
   * The name of the code at addr. Code is freed and its addresses reused, so
   * the latest entry holding the address wins.
   */
  lookup(addr: number): string | null {
    for (let i = this.starts.length - 1; i >= 0; i--) {
      if (addr >= this.starts[i] && addr < this.ends[i]) return this.names[i];
    }
    return null;
  }
}
