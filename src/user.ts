/**
 * Who a launched command runs as, and who owns the files the monitor writes.
 *
 * The monitor needs root for eBPF; the code it watches must not inherit it.
 * Under sudo the invoking user is SUDO_UID/SUDO_GID; users are looked up
 * through the system's user database (getent and id, so NSS sources such as
 * LDAP count, as they do for login and initgroups).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';

export interface UserIdentity {
  uid: number;
  gid: number;
  /** Supplementary groups as initgroups(3) would set them (the primary group included). */
  groups: number[];
  /** From the user database; null when the uid has no entry. */
  name: string | null;
  home: string | null;
}

/** Who files written for the analyst belong to. */
export interface FileOwner {
  uid: number;
  gid: number;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "unchanged" to the kernel
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/;

function parseId(text: string): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= MAX_ID ? n : null;
}

function parsePasswdLine(line: string): PasswdEntry | null {
  const fields = line.split(':');
  if (fields.length < 7) return null;
  const uid = parseId(fields[2]);
  const gid = parseId(fields[3]);
  if (uid === null || gid === null) return null;
  return { name: fields[0], uid, gid, home: fields[5] };
}

/** /etc/passwd, where nearly every lookup ends (getent costs a process: ~15 ms on a busy machine). */
function fromPasswdFile(key: string, byUid: boolean): PasswdEntry | null {
  let text: string;
  try {
    const fd = fs.openSync('/etc/passwd', 'r');
    try {
      const buf = Buffer.alloc(4 << 20); // bounded: a huge file falls through to getent
      text = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const e = parsePasswdLine(line);
    if (e && (byUid ? String(e.uid) === key : e.name === key)) return e;
  }
  return null;
}

/** A user by name or uid from the user database (/etc/passwd, then every NSS source), or null. */
export function lookupUser(spec: string | number): PasswdEntry | null {
  const key = String(spec);
  const byUid = parseId(key) !== null;
  if (!byUid && !NAME.test(key)) return null;
  const local = fromPasswdFile(byUid ? String(parseId(key)) : key, byUid);
  if (local) return local;
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', '--', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 });
  } catch {
    return null; // exit 2: no such entry
  }
  return parsePasswdLine(line.split('\n')[0]);
}

/** The groups initgroups(name, gid) gives: the user's groups in the database, and gid. */
export function groupsOf(name: string, gid: number): number[] {
  const groups = new Set<number>([gid]);
  try {
    const text = execFileSync('id', ['-G', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 });
    for (const g of text.trim().split(/\s+/)) {
      const n = parseId(g);
      if (n !== null) groups.add(n);
    }
  } catch {
    // no database entry: the primary group alone
  }
  return [...groups].sort((a, b) => a - b);
}

function identity(entry: PasswdEntry, gid = entry.gid): UserIdentity {
  return { uid: entry.uid, gid, groups: groupsOf(entry.name, gid), name: entry.name, home: entry.home };
}

/** `--user NAME|UID`: a user that exists in the database. Throws a one-line error. */
export function resolveUser(spec: string): UserIdentity {
  const entry = lookupUser(spec);
  if (!entry) throw new Error(`no such user: '${spec.slice(0, 64)}'`);
  return identity(entry);
}

/**
 * A uid (and optionally gid and groups) as the library is given it: what is
 * not given comes from the user database, as sudo -u would set it.
 */
export function identityFor(uid: number, gid?: number, groups?: readonly number[]): UserIdentity {
  const check = (what: string, n: unknown) => {
    if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > MAX_ID) throw new RangeError(`${what} must be an integer from 0 to ${MAX_ID}, got ${String(n)}`);
  };
  check('uid', uid);
  if (gid !== undefined) check('gid', gid);
  if (groups !== undefined) {
    if (!Array.isArray(groups)) throw new TypeError('groups must be an array of group ids');
    for (const g of groups) check('each of groups', g);
  }
  const entry = lookupUser(uid);
  if (gid === undefined && !entry) throw new Error(`uid ${uid} has no entry in the user database: give its gid too`);
  const primary = gid ?? entry!.gid;
  const base = entry ? identity(entry, primary) : { uid, gid: primary, groups: [primary], name: null, home: null };
  if (groups) base.groups = [...new Set(groups)].sort((a, b) => a - b);
  return base;
}

/**
 * The user who ran sudo, when this process is root under sudo; null otherwise
 * (not root, not under sudo, or sudo run by root itself).
 */
export function sudoUser(env: NodeJS.ProcessEnv = process.env, euid = process.geteuid?.() ?? -1): UserIdentity | null {
  const owner = sudoOwner(env, euid);
  if (!owner) return null;
  const entry = lookupUser(owner.uid);
  if (!entry) return { uid: owner.uid, gid: owner.gid, groups: [owner.gid], name: null, home: null };
  return identity(entry, owner.gid);
}

/** Who files written under sudo belong to: SUDO_UID/SUDO_GID, when root under sudo; else null. */
export function sudoOwner(env: NodeJS.ProcessEnv = process.env, euid = process.geteuid?.() ?? -1): FileOwner | null {
  if (euid !== 0 || env.SUDO_UID === undefined) return null;
  const uid = parseId(env.SUDO_UID);
  if (uid === null) throw new Error(`SUDO_UID is not a user id: '${env.SUDO_UID.slice(0, 20)}'`);
  if (uid === 0) return null;
  let gid: number | null;
  if (env.SUDO_GID !== undefined) {
    gid = parseId(env.SUDO_GID);
    if (gid === null) throw new Error(`SUDO_GID is not a group id: '${env.SUDO_GID.slice(0, 20)}'`);
  } else {
    gid = lookupUser(uid)?.gid ?? null;
    if (gid === null) throw new Error(`SUDO_UID ${uid} has no entry in the user database and SUDO_GID is not set`);
  }
  return { uid, gid };
}

/** This process's own effective identity. */
export function currentUser(): UserIdentity {
  const uid = process.geteuid!();
  const gid = process.getegid!();
  const groups = [...new Set([gid, ...process.getgroups!()])].sort((a, b) => a - b);
  const entry = lookupUser(uid);
  return { uid, gid, groups, name: entry?.name ?? null, home: entry?.home ?? null };
}

/** Whether running as `user` changes nothing for a process started from this one. */
export function isCurrentUser(user: UserIdentity): boolean {
  const self = currentUser();
  return user.uid === self.uid && user.gid === self.gid && user.groups.join() === self.groups.join();
}

/** The environment for a command run as `user`: HOME, USER and LOGNAME are that user's. */
export function envFor(user: UserIdentity, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...base };
  if (user.home !== null) env.HOME = user.home;
  const name = user.name ?? String(user.uid);
  env.USER = name;
  env.LOGNAME = name;
  return env;
}

/** The effective ids and groups of a running process, from /proc/PID/status; null if it is gone. */
export function processUser(pid: number): UserIdentity | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1].trim().split(/\s+/).filter(Boolean) ?? [];
  const uid = parseId(field('Uid')[1] ?? '');
  const gid = parseId(field('Gid')[1] ?? '');
  if (uid === null || gid === null) return null;
  const groups = field('Groups')
    .map(parseId)
    .filter((g): g is number => g !== null)
    .sort((a, b) => a - b);
  const entry = lookupUser(uid);
  return { uid, gid, groups, name: entry?.name ?? null, home: entry?.home ?? null };
}
