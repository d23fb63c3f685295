/**
 * Bounded reads of /proc files. Their size is whatever the monitored process
 * made it (a huge argv, a million mappings), so nothing here reads to the end
 * of a file without a limit.
 */
import * as fs from 'fs';

/** The kernel allows at most 6 MiB of argv + envp at exec. */
export const CMDLINE_BYTES = 64 << 10;
/** /proc/PID/maps text, far beyond any real process's mappings. */
export const MAPS_BYTES = 16 << 20;

/**
 * One read buffer for every bounded read: allocating (and zeroing) a fresh
 * 64 KiB per read cost more than the read itself when the call-site cache
 * re-read a process's maps at every event of a burst.
 */
const SCRATCH = Buffer.allocUnsafeSlow(64 << 10);

/** Reads at most maxBytes of a file (proc files report size 0, so read until EOF). */
export function readBounded(path: string, maxBytes: number): Buffer {
  const fd = fs.openSync(path, 'r');
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const want = Math.min(SCRATCH.length, maxBytes - total);
      const n = fs.readSync(fd, SCRATCH, 0, want, null);
      if (n === 0) break;
      chunks.push(Buffer.from(SCRATCH.subarray(0, n)));
      SCRATCH.fill(0, 0, n); // the environment passes through here
      total += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (chunks.length === 1) return chunks[0];
  const all = Buffer.concat(chunks, total);
  for (const c of chunks) c.fill(0);
  return all;
}

/** The first `bytes` bytes of a file (fewer if it is shorter); null if it cannot be read. */
export function readHead(path: string, bytes: number): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, fs.readSync(fd, buf, 0, bytes, 0));
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Where a /proc symlink points (exe, fd/N, ns/net), or `fallback` if it cannot be read. */
export function readLinkOr(path: string, fallback: string): string {
  try {
    return fs.readlinkSync(path);
  } catch {
    return fallback;
  }
}

/**
 * The first `maxArgs` arguments of /proc/PID/cmdline, each cut at `argBytes`
 * bytes; [] if the process is gone.
 */
export function readArgv(pid: number, maxArgs: number, argBytes: number): string[] {
  let buf: Buffer;
  try {
    buf = readBounded(`/proc/${pid}/cmdline`, CMDLINE_BYTES);
  } catch {
    return [];
  }
  const argv: string[] = [];
  for (let p = 0; p < buf.length && argv.length < maxArgs; ) {
    let nul = buf.indexOf(0, p);
    if (nul < 0) nul = buf.length;
    argv.push(buf.toString('utf8', p, Math.min(nul, p + argBytes)));
    p = nul + 1;
  }
  return argv;
}

/** Numeric entries of a /proc directory, at most limit; [] if it is gone. */
export function listPids(dir: string, limit: number): number[] {
  const out: number[] = [];
  let d: fs.Dir;
  try {
    d = fs.opendirSync(dir);
  } catch {
    return out;
  }
  try {
    while (out.length < limit) {
      const entry = d.readSync();
      if (entry === null) break;
      const n = Number(entry.name);
      if (Number.isSafeInteger(n) && n > 0) out.push(n);
    }
  } catch {
    // the process exited while we listed it: what we have is all there is
  } finally {
    d.closeSync();
  }
  return out;
}
