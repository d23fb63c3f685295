/**
 * A throwaway user with supplementary groups, made with useradd in test
 * set-up (root) and removed after: what a launched command runs as must be
 * checked against groups nobody else has.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** Every group it is in, the primary one included, ascending. */
  groups: number[];
  home: string;
  remove(): void;
}

function run(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createTestUser(tag: string): TestUser {
  const suffix = `${process.pid.toString(36)}${tag}`.slice(0, 10);
  const name = `wsk-${suffix}`;
  const extra = [`wskg1-${suffix}`, `wskg2-${suffix}`];
  const home = `/nonexistent/${name}`;
  for (const g of extra) run('groupadd', [g]);
  try {
    run('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', '--user-group', '--groups', extra.join(','), name]);
  } catch (err) {
    for (const g of extra) run('groupdel', [g]);
    throw err;
  }
  const uid = Number(run('id', ['-u', name]).trim());
  const gid = Number(run('id', ['-g', name]).trim());
  const groups = run('id', ['-G', name]).trim().split(/\s+/).map(Number).sort((a, b) => a - b);
  return {
    name,
    uid,
    gid,
    groups,
    home,
    remove() {
      run('userdel', [name]);
      for (const g of extra) run('groupdel', [g]);
    },
  };
}

/** The real, effective, saved (and fs) ids and the groups of a running process, from /proc/PID/status. */
export function procIds(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups').sort((a, b) => a - b) };
}
