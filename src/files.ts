/**
 * Files and directories the monitor writes for the analyst. A file is created
 * exclusively (O_EXCL|O_NOFOLLOW) beside its destination, mode 0600, flushed,
 * then renamed into place: a reader never sees half of it, and a symlink
 * planted at the path is replaced, never followed. Under sudo it belongs to
 * the invoking user: ownership is set on the open descriptor (fchown) before
 * the rename, never on a path, which another process could swap.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { FileOwner } from './user';

export type { FileOwner } from './user';

const CREATE = fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW;

export interface WriteOptions {
  /** Who the file belongs to (default: whoever runs the monitor). */
  owner?: FileOwner | null;
  /** Permission bits (default 0600). */
  mode?: number;
}

function giveTo(fd: number, owner: FileOwner | null | undefined): void {
  if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
}

/** Replaces `file` with `data` atomically; throws the system error on failure (nothing is left behind). */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteOptions = {}): void {
  const resolved = path.resolve(file);
  const tmp = path.join(path.dirname(resolved), `.${path.basename(resolved)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, CREATE, options.mode ?? 0o600);
  try {
    giveTo(fd, options.owner);
    fs.writeFileSync(fd, data); // loops over short writes
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, resolved);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Proves a file can be created in `dir` and given to `owner`, by doing it
 * (and removing it): access(2) does not see read-only mounts, full quotas or
 * file systems that refuse chown. Throws the system error.
 */
export function probeWritable(dir: string, owner?: FileOwner | null): void {
  const probe = path.join(dir, `.wasmshark-check-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(probe, CREATE, 0o600);
  try {
    giveTo(fd, owner);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(probe, { force: true });
  }
}

/**
 * Creates directory `dir` (mode 0700 by default) for `owner`; an existing
 * directory is used as it is. Ownership goes through a descriptor opened
 * without following symlinks, and only onto a directory this process made.
 * Throws the system error (ENOTDIR, ELOOP for a symlink, ...).
 */
export function makeDirectory(dir: string, options: WriteOptions = {}): void {
  const mode = options.mode ?? 0o700;
  let created = true;
  try {
    fs.mkdirSync(dir, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
  }
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    // whatever is at the path now: swapped in between mkdir and open, it is not ours to give away
    if (created && fs.fstatSync(fd).uid === process.geteuid?.()) {
      fs.fchmodSync(fd, mode);
      giveTo(fd, options.owner);
    }
  } finally {
    fs.closeSync(fd);
  }
}
