/**
 * Parsers for the /proc files the proc source reads. Pure: text or bytes in,
 * plain objects out, no I/O. Everything in these files can be shaped by the
 * monitored process (names, paths, argv), so malformed input is skipped,
 * never thrown, and strings are returned as found (the console escapes them).
 */
import * as os from 'os';
import type { ProcConnectionEvent } from '../events';
import { formatIPv4, formatIPv6 } from '../net/address';

export const MAX_ENV_NAMES = 4096;
export const MAX_ENV_NAME_BYTES = 256;

/** Bytes as text the way the kernel decoder does: invalid UTF-8 becomes U+FFFD. */
function bytesToString(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) return buf.toString('utf8', start, end);
  }
  return buf.toString('latin1', start, end);
}

/**
 * Names from /proc/PID/environ (NUL-separated NAME=value). Values are
 * secrets: they are only stepped over, never decoded into strings.
 */
export function parseEnvironNames(buf: Buffer): string[] {
  const names: string[] = [];
  if (!Buffer.isBuffer(buf)) return names;
  let start = 0;
  while (start < buf.length && names.length < MAX_ENV_NAMES) {
    let end = buf.indexOf(0, start);
    if (end < 0) end = buf.length;
    // Search '=' inside this entry only: an entry without one must not make us scan the rest.
    const eq = buf.subarray(start, end).indexOf(0x3d);
    if (eq > 0) names.push(bytesToString(buf, start, start + Math.min(eq, MAX_ENV_NAME_BYTES)));
    start = end + 1;
  }
  return names;
}

/** One socket line of /proc/PID/net/{tcp,tcp6,udp,udp6}: the connection event's fields, and the owner. */
export type NetEntry = Omit<ProcConnectionEvent, 'kind' | 'pid' | 'protocol' | 'family'> & { uid: number };

const TCP_STATES: Record<number, string> = {
  0x01: 'ESTABLISHED',
  0x02: 'SYN_SENT',
  0x03: 'SYN_RECV',
  0x04: 'FIN_WAIT1',
  0x05: 'FIN_WAIT2',
  0x06: 'TIME_WAIT',
  0x07: 'CLOSE',
  0x08: 'CLOSE_WAIT',
  0x09: 'LAST_ACK',
  0x0a: 'LISTEN',
  0x0b: 'CLOSING',
  0x0c: 'NEW_SYN_RECV',
  0x0d: 'BOUND_INACTIVE',
};

function stateName(code: number, protocol: 'tcp' | 'udp'): string {
  if (protocol === 'udp' && code === 0x07) return 'UNCONN';
  return TCP_STATES[code] ?? `UNKNOWN_${code.toString(16).toUpperCase().padStart(2, '0')}`;
}

const HOST_LE = os.endianness() === 'LE';
const HEX_WORD = /^[0-9A-Fa-f]{8}$/;
const INET_ENDPOINT = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/;
const INET6_ENDPOINT = /^([0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/;
const SLOT = /^\d+:$/;
const DECIMAL = /^\d{1,15}$/;

/**
 * The kernel prints each 32-bit word of the address as it sits in memory
 * (%08X of a host-order load), so on little-endian hosts every word's bytes
 * are reversed relative to network order.
 */
function addressBytes(hex: string): Buffer {
  const out = Buffer.alloc(hex.length / 2);
  for (let w = 0; w * 8 < hex.length; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    if (!HEX_WORD.test(word)) return out;
    const value = parseInt(word, 16);
    if (HOST_LE) out.writeUInt32LE(value, w * 4);
    else out.writeUInt32BE(value, w * 4);
  }
  return out;
}

function endpoint(text: string, family: 'inet' | 'inet6'): { address: string; port: number } | null {
  const m = (family === 'inet' ? INET_ENDPOINT : INET6_ENDPOINT).exec(text);
  if (!m) return null;
  const bytes = addressBytes(m[1]);
  const address = family === 'inet' ? formatIPv4(bytes, 0) : formatIPv6(bytes, 0);
  return { address, port: parseInt(m[2], 16) };
}

/** Entries of /proc/PID/net/{tcp,tcp6,udp,udp6}; the header and malformed lines are skipped. */
export function parseNetTable(text: string, protocol: 'tcp' | 'udp', family: 'inet' | 'inet6'): NetEntry[] {
  const entries: NetEntry[] = [];
  if (typeof text !== 'string') return entries;
  for (const line of text.split('\n')) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !SLOT.test(f[0])) continue;
    const local = endpoint(f[1], family);
    const remote = endpoint(f[2], family);
    if (!local || !remote || !/^[0-9A-Fa-f]{2}$/.test(f[3])) continue;
    if (!DECIMAL.test(f[7]) || !DECIMAL.test(f[9])) continue;
    entries.push({
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state: stateName(parseInt(f[3], 16), protocol),
      inode: Number(f[9]),
      uid: Number(f[7]),
    });
  }
  return entries;
}

export interface MapEntry {
  start: number;
  end: number;
  /** e.g. 'rwxp', 'r--s'. */
  perms: string;
  offset: number;
  inode: number;
  /** Backing file ('/x (deleted)' kept as is), [heap], [stack], ..., or '' for anonymous memory. */
  path: string;
}

// start-end perms offset dev inode [padding path]; the path keeps inner and trailing spaces.
// The kernel escapes only '\n' in the path: with the s flag '.' also takes '\r', U+2028 and U+2029,
// which a file name may hold, so such a mapping cannot drop out of the list.
const MAPS_LINE = /^([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([-rwxsp]{4}) ([0-9a-f]{1,16}) [0-9a-f]+:[0-9a-f]+ (\d{1,20})(?: +(.*))?$/s;

/**
 * /proc/PID/maps. Addresses are numbers: exact for user space (below 2^53);
 * only the kernel's [vsyscall] page lies above and comes out rounded.
 */
export function parseMaps(text: string, maxEntries = Infinity): MapEntry[] {
  const entries: MapEntry[] = [];
  if (typeof text !== 'string') return entries;
  let start = 0;
  while (start < text.length && entries.length < maxEntries) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const m = MAPS_LINE.exec(text.slice(start, end));
    start = end + 1;
    if (!m) continue;
    entries.push({
      start: parseInt(m[1], 16),
      end: parseInt(m[2], 16),
      perms: m[3],
      offset: parseInt(m[4], 16),
      inode: Number(m[5]),
      path: m[6] ?? '',
    });
  }
  return entries;
}

/**
 * /proc/PID/task/TID/syscall: the syscall the thread is blocked in, 'running'
 * when it is on a CPU (the kernel cannot say), or null when it is blocked
 * outside any syscall (-1) or the text is not understood.
 */
export function parseSyscall(text: string): { nr: number } | 'running' | null {
  if (typeof text !== 'string') return null;
  const first = text.trimStart().split(/\s/, 1)[0];
  if (first === 'running') return 'running';
  if (!/^\d{1,6}$/.test(first)) return null;
  return { nr: Number(first) };
}
