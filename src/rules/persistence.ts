/**
 * Writes that outlive the process: files that make an intrusion survive a
 * restart or hand out the host (SSH keys, the preload list, accounts,
 * scheduled jobs and services, shell start-up files, programs), logs wiped,
 * and links planted over secrets. Judged on the path the kernel resolved
 * (an open's file) or joined from the directory the kernel holds (a rename,
 * link, symlink, unlink or truncate), whether a syscall or an io_uring
 * request made the change.
 */
import type { Finding, Level } from '../alerts';
import type { OpenEvent, PathEvent } from '../events';
import { globToRegExp, PERSISTENCE_CLASSES, type PersistenceClass, type RulesConfig } from './config';
import { fileName } from './fileless';

interface ClassInfo {
  level: Level;
  title: string;
  description: string;
}

const CLASSES: Record<PersistenceClass, ClassInfo> = {
  'remote-access': {
    level: 'CRITICAL',
    title: 'SSH access file written',
    description: 'whoever holds the key added here logs in to the host over SSH, after any restart',
  },
  preload: {
    level: 'CRITICAL',
    title: 'Dynamic loader preload list written',
    description: 'a library named here is loaded into every program the host starts',
  },
  accounts: {
    level: 'CRITICAL',
    title: 'Account or privilege file written',
    description: 'users, passwords, groups, sudo rights and PAM decide who is root on the host',
  },
  scheduled: {
    level: 'HIGH',
    title: 'Scheduled job or service written',
    description: 'cron, at, systemd units and autostart entries run their command again after a restart',
  },
  'shell-startup': {
    level: 'HIGH',
    title: 'Shell start-up file written',
    description: 'every new login or interactive shell runs what was added here',
  },
  binaries: {
    level: 'HIGH',
    title: 'Program or library written below a system binary directory',
    description: 'a planted or replaced program runs whenever anyone runs it by name',
  },
};

/** What a path change does, in words, for titles. */
const VERB: Record<PathEvent['op'], string> = {
  rename: 'renamed onto',
  link: 'hard-linked onto',
  symlink: 'symlinked at',
  unlink: 'removed',
  truncate: 'truncated',
};

const PROC_ENVIRON = /^\/proc\/(\d+)\/(?:task\/\d+\/)?environ$/;

export class PersistenceMatchers {
  private readonly classes: Array<[PersistenceClass, RegExp[]]>;
  private readonly logs: RegExp[];
  private readonly sensitive: RegExp[];

  constructor(config: RulesConfig) {
    this.classes = PERSISTENCE_CLASSES.map((c) => [c, config.persistence[c].map((p) => globToRegExp(p))]);
    this.logs = config.logFiles.map((p) => globToRegExp(p));
    this.sensitive = config.sensitiveFiles.map((p) => globToRegExp(p));
  }

  private classOf(path: string): PersistenceClass | null {
    for (const [c, res] of this.classes) if (res.some((re) => re.test(path))) return c;
    return null;
  }

  private persistence(cls: PersistenceClass, path: string, how: string, evidence: string, pid: number): Finding {
    const info = CLASSES[cls];
    return {
      rule: `persistence.${cls}`,
      key: path,
      level: info.level,
      category: 'FILE',
      title: `${info.title}: ${path}${how ? ` (${how})` : ''}`,
      description: info.description,
      evidence,
      pid,
    };
  }

  /** A file opened for writing where a write persists. */
  openRules(e: OpenEvent): Finding[] {
    if (!e.write || e.file.detached || e.file.truncated) return [];
    const cls = this.classOf(e.file.path);
    if (!cls) return [];
    const evidence = `path=${fileName(e.file)} fd=${e.fd} write syscall=${e.syscall}${e.uring ? ' via=io_uring' : ''} pid=${e.pid} comm=${e.comm}`;
    return [this.persistence(cls, e.file.path, e.uring ? 'through io_uring' : '', evidence, e.pid)];
  }

  /** A name changed: onto a persistence file, a log wiped, a link planted over a secret. */
  pathRules(e: PathEvent): Finding[] {
    const shown = e.path || e.name;
    const via = e.uring ? ' via=io_uring' : '';
    const evidence = `path=${shown}${e.source ? ` source=${e.source}` : ''} syscall=${e.syscall}${via} pid=${e.pid} comm=${e.comm}`;
    const findings: Finding[] = [];
    if (e.path && e.op !== 'unlink') {
      const cls = this.classOf(e.path);
      if (cls) findings.push(this.persistence(cls, e.path, VERB[e.op], evidence, e.pid));
    }
    if (e.path && (e.op === 'unlink' || e.op === 'truncate') && this.logs.some((re) => re.test(e.path))) {
      findings.push({
        rule: 'tamper.log',
        key: e.path,
        level: 'HIGH',
        category: 'FILE',
        title: `Log ${VERB[e.op]}: ${e.path}`,
        description: 'wiping a log or a shell history hides what was done',
        evidence,
        pid: e.pid,
      });
    }
    // a link whose target is a secret: read later through a name no rule watches
    const target = e.op === 'symlink' || e.op === 'link' ? e.source : '';
    if (target.startsWith('/') && (this.sensitive.some((re) => re.test(target)) || this.classOf(target))) {
      findings.push({
        rule: 'file.link-sensitive',
        key: `${target}\u0000${shown}`,
        level: 'HIGH',
        category: 'FILE',
        title: `${e.op === 'symlink' ? 'Symlink' : 'Hard link'} to a sensitive file: ${shown} -> ${target}`,
        description: 'a second name for a credential or system file lets it be read or replaced where nobody looks',
        evidence,
        pid: e.pid,
      });
    }
    return findings;
  }
}

/** Another process's environment read from /proc/PID/environ: its secrets, without asking. */
export function procEnvironRules(e: OpenEvent, procMagic: number): Finding[] {
  if (e.file.magic !== procMagic || e.write) return [];
  const m = PROC_ENVIRON.exec(e.file.path);
  if (!m || Number(m[1]) === e.pid) return [];
  return [
    {
      rule: 'credentials.proc-environ',
      key: `${e.pid}:${m[1]}`,
      level: 'HIGH',
      category: 'CREDENTIALS',
      title: `Another process's environment read: ${e.file.path}`,
      description: "environment variables carry tokens and passwords; reading another process's is how they are harvested",
      evidence: `path=${e.file.path} fd=${e.fd} syscall=${e.syscall}${e.uring ? ' via=io_uring' : ''} target=${m[1]} pid=${e.pid} comm=${e.comm}`,
      pid: e.pid,
    },
  ];
}
