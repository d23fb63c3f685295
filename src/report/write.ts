/**
 * Where a report goes: the check before monitoring starts that it can be
 * written there, and the write itself, atomic (a temp file in the same
 * directory, created exclusively, never through a symlink, mode 0600,
 * flushed, then renamed over the destination); under sudo it is the invoking
 * user's (files.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { probeWritable, writeFileAtomic, type FileOwner } from '../files';
import { reportJson, type Report } from './index';

/**
 * Checks before monitoring starts that the report can be written there (and,
 * under sudo, given to `owner`), so a long run does not end in a lost report.
 * Throws a one-line error.
 */
export function checkOutputPath(file: string, owner?: FileOwner | null): string {
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new Error(`cannot write report ${file}: directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`cannot write report ${file}: ${dir} is not a directory`);
  try {
    if (fs.lstatSync(resolved).isDirectory()) throw new Error(`cannot write report ${file}: it is a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    probeWritable(dir, owner);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EROFS' ? 'read-only file system' : e.message;
    throw new Error(`cannot write report ${file}: ${e.syscall === 'fchown' ? `cannot give it to uid ${owner!.uid}: ` : ''}${why}`);
  }
  return resolved;
}

/**
 * Writes the report atomically with mode 0600; a symlink at the path is
 * replaced, never followed. With `owner` (the invoking user under sudo) the
 * file is theirs.
 */
export function writeReport(file: string, report: Report, owner?: FileOwner | null): void {
  writeFileAtomic(file, reportJson(report), { owner, mode: 0o600 });
}
