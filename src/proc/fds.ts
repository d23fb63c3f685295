/**
 * A process's open file descriptors, from /proc/PID/fd. The directory is read
 * one entry at a time so a target holding a million fds costs us the cap, not
 * a million-entry array.
 */
import * as fs from 'fs';

/** fds whose target is read in one call. */
export const MAX_FDS = 4096;
/** Directory entries listed in one call, to find a window further in. */
export const MAX_FD_ENTRIES = 65536;

export interface FdTarget {
  fd: number;
  /** What the fd refers to: a path, 'socket:[N]', 'pipe:[N]', 'anon_inode:[eventfd]', ... */
  target: string;
}

export interface FdWindow {
  targets: FdTarget[];
  /** The listing reached the end of the directory: the window saw everything from `skip` on. */
  complete: boolean;
}

/** The fds of pid and their targets (at most `limit`); a vanished process or fd is skipped. */
export function readFdTargets(pid: number, limit = MAX_FDS): FdTarget[] {
  return readFdWindow(pid, 0, limit).targets;
}

/**
 * The targets of up to `limit` fds after the first `skip` entries. A caller
 * that moves the window along from pass to pass sees every fd eventually, so
 * a target cannot hide a socket behind thousands of dummy fds, while each
 * pass stays bounded.
 */
export function readFdWindow(pid: number, skip: number, limit = MAX_FDS, maxEntries = MAX_FD_ENTRIES): FdWindow {
  const targets: FdTarget[] = [];
  let dir: fs.Dir;
  try {
    dir = fs.opendirSync(`/proc/${pid}/fd`);
  } catch {
    return { targets, complete: true }; // gone, or not ours to read
  }
  let complete = false;
  try {
    for (let index = 0, looked = 0; index < maxEntries && looked < limit; index++) {
      let entry: fs.Dirent | null;
      try {
        entry = dir.readSync();
      } catch {
        complete = true; // the process exited while we listed it
        break;
      }
      if (entry === null) {
        complete = true;
        break;
      }
      if (index < skip) continue;
      looked++;
      const fd = Number(entry.name);
      if (!Number.isSafeInteger(fd)) continue;
      try {
        targets.push({ fd, target: fs.readlinkSync(`/proc/${pid}/fd/${entry.name}`) });
      } catch {
        // closed between listing and readlink
      }
    }
  } finally {
    dir.closeSync();
  }
  return { targets, complete };
}

const SOCKET = /^socket:\[(\d{1,15})\]$/;

/** Inodes of the sockets among the targets (they key /proc/PID/net/{tcp,udp}{,6}). */
export function socketInodes(targets: Iterable<FdTarget>): Set<number> {
  const inodes = new Set<number>();
  for (const { target } of targets) {
    const m = SOCKET.exec(target);
    if (m) inodes.add(Number(m[1]));
  }
  return inodes;
}
