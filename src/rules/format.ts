/** Small formatters for evidence strings. */
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../events';

export const hex = (n: number): string => `0x${n.toString(16)}`;

export function protNames(prot: number): string {
  const names: string[] = [];
  if (prot & PROT_READ) names.push('PROT_READ');
  if (prot & PROT_WRITE) names.push('PROT_WRITE');
  if (prot & PROT_EXEC) names.push('PROT_EXEC');
  return names.length ? names.join('|') : 'PROT_NONE';
}

const MAP_FLAGS: Array<[number, string]> = [
  [0x01, 'MAP_SHARED'],
  [0x02, 'MAP_PRIVATE'],
  [0x10, 'MAP_FIXED'],
  [0x20, 'MAP_ANONYMOUS'],
  [0x100, 'MAP_GROWSDOWN'],
  [0x4000, 'MAP_NORESERVE'],
  [0x100000, 'MAP_FIXED_NOREPLACE'],
];

export function mapFlagNames(flags: number): string {
  const names = MAP_FLAGS.filter(([bit]) => flags & bit).map(([, name]) => name);
  return names.length ? names.join('|') : hex(flags);
}

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 22: 'EINVAL', 88: 'ENOTSOCK',
  101: 'ENETUNREACH', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED', 113: 'EHOSTUNREACH', 115: 'EINPROGRESS',
};

/** 'ok' for 0 or a positive result, else the errno name. */
export function resultText(result: number): string {
  if (result >= 0) return 'ok';
  return ERRNO[-result] ?? `errno ${-result}`;
}

/** argv as a shell would show it, quoted where needed. */
export function argvText(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
