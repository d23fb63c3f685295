/** Credentials in the environment, sensitive and dropped files. */
import type { Finding } from '../alerts';
import type { OpenEvent, ProcEnvEvent, ProcFileEvent } from '../events';
import { globToRegExp, type RulesConfig } from './config';
import { fileName } from './fileless';

const SSH_DIR = /(?:^|\/)\.ssh\//;

/**
 * A runtime's JIT symbol map, under the name only its own pid gives it
 * (V8's --perf-basic-prof, wasmtime's perfmap, a jitdump), or the log V8
 * writes beside it in the working directory: profiling output, not a
 * dropped payload.
 */
function ownJitMap(path: string, pid: number): boolean {
  if (path === `/tmp/perf-${pid}.map` || path === `/tmp/jit-${pid}.dump`) return true;
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.startsWith('isolate-0x') && base.endsWith(`-${pid}-v8.log`) && /^isolate-0x[0-9a-f]{1,16}-\d+-v8\.log$/.test(base);
}

/** A credential or secret file, from the fd poll or the kernel's open (same rule, same key). */
function sensitiveFile(path: string, pid: number, title: string, description: string, evidence: string): Finding {
  return { rule: 'file.sensitive', key: path, level: 'HIGH', category: 'FILE', title, description, evidence, pid, ssh: SSH_DIR.test(path) };
}

function droppedFile(path: string, pid: number, title: string, evidence: string): Finding {
  return {
    rule: 'file.drop',
    key: path,
    level: 'MEDIUM',
    category: 'FILE',
    title,
    description: 'payloads are commonly dropped in /tmp, /var/tmp or /dev/shm',
    evidence,
    pid,
  };
}

export class SecretMatchers {
  private readonly env: RegExp[];
  private readonly files: RegExp[];
  private readonly drops: RegExp[];

  constructor(config: RulesConfig) {
    this.env = config.sensitiveEnv.map((p) => globToRegExp(p, 'i'));
    this.files = config.sensitiveFiles.map((p) => globToRegExp(p));
    this.drops = config.dropLocations.map((p) => globToRegExp(p));
  }

  envRules(e: ProcEnvEvent): Finding[] {
    return e.names
      .filter((name) => this.env.some((re) => re.test(name)))
      .map((name) => ({
        rule: 'credentials.env',
        key: name,
        level: 'HIGH',
        category: 'CREDENTIALS',
        title: `Sensitive environment variable: ${name}`,
        description: 'WASM runtime has access to credential/secret env var',
        evidence: `key=${name} (value redacted)`,
        pid: e.pid,
        ssh: name === 'SSH_AUTH_SOCK',
        exposure: true,
      }));
  }

  fileRules(e: ProcFileEvent): Finding[] {
    const path = e.path.endsWith(' (deleted)') ? e.path.slice(0, -' (deleted)'.length) : e.path;
    const evidence = `path=${e.path} fd=${e.fd} pid=${e.pid}`;
    if (this.files.some((re) => re.test(path))) {
      return [sensitiveFile(path, e.pid, `Sensitive file open: ${path}`, 'the runtime holds a credential or system secret file open', evidence)];
    }
    // stdin/out/err point wherever whoever started the process redirected them
    if (e.fd > 2 && !ownJitMap(path, e.pid) && this.drops.some((re) => re.test(path))) {
      return [droppedFile(path, e.pid, `File open in a world-writable location: ${path}`, evidence)];
    }
    return [];
  }

  /**
   * A file the kernel saw opened, by its resolved path: caught even when it
   * is closed again before the next /proc pass. A drop location counts only
   * when written: reading a config from /tmp drops nothing.
   */
  openRules(e: OpenEvent): Finding[] {
    if (e.file.detached) return [];
    const path = e.file.path;
    const shown = fileName(e.file);
    const evidence = `path=${shown} fd=${e.fd} ${e.write ? 'write' : 'read'} syscall=${e.syscall}${e.uring ? ' via=io_uring' : ''} pid=${e.pid} comm=${e.comm}`;
    if (this.files.some((re) => re.test(path))) {
      const how = e.uring ? ' through io_uring' : '';
      return [sensitiveFile(path, e.pid, `Sensitive file opened${how}: ${shown}`, `the runtime opened a credential or system secret file${how}`, evidence)];
    }
    if (e.write && !ownJitMap(path, e.pid) && this.drops.some((re) => re.test(path))) {
      return [droppedFile(path, e.pid, `File written in a world-writable location: ${shown}`, evidence)];
    }
    return [];
  }
}
