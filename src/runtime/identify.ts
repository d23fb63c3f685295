/**
 * Which WebAssembly runtime a process is, and how its JIT is known to treat
 * memory, from its executable and the libraries it has mapped. Nothing of the
 * target is executed: versions come from the binary's own bytes or the npm
 * package it was installed from.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MapEntry } from '../proc/parse';
import { withFile } from './elf';
import { libraryEntry, RUNTIMES, type JitModel, type RuntimeEntry } from './registry';

export type { JitModel } from './registry';

export interface RuntimeInfo {
  /** A registry name (see RUNTIMES), go (a Go program without a runtime), or unknown. */
  name: string;
  /** The engine that compiles code: V8, JavaScriptCore, Cranelift, ... ('' if none). */
  engine: string;
  version: string | null;
  jit: JitModel;
  /** Files whose code is the runtime's own (its executable or embedded runtime library). */
  modules: string[];
  /** The program it is embedded in (its executable's name), when it is a library in another program. */
  embedder?: string;
}

const SCAN_LIMIT = 96 << 20;
const CHUNK = 4 << 20;

/** Finds `literal` in the file's first SCAN_LIMIT bytes and applies `after` to what follows. */
function scanVersion(file: string, literal: string, after: RegExp): string | null {
  return withFile(file, (fd) => {
    const needle = Buffer.from(literal, 'latin1');
    const buf = Buffer.alloc(CHUNK + 64);
    for (let pos = 0; pos < SCAN_LIMIT; pos += CHUNK) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= needle.length) break;
      let at = buf.indexOf(needle, 0);
      while (at >= 0 && at < Math.min(n, CHUNK)) {
        const m = after.exec(buf.toString('latin1', at + needle.length, Math.min(n, at + needle.length + 40)));
        if (m) return m[1];
        at = buf.indexOf(needle, at + 1);
      }
      if (n < buf.length) break;
    }
    return null;
  });
}

/** An npm-installed binary (node_modules/<pkg>/bin/<exe>): the package's version. */
function packageVersion(exe: string): string | null {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(exe), '..', 'package.json'), 'utf8'));
    return typeof pkg.version === 'string' && /\/node_modules\//.test(exe) ? pkg.version : null;
  } catch {
    return null;
  }
}

/**
 * Go's build information (section .go.buildinfo): the Go version and the
 * module list, with the versions of the modules linked in. Inline format
 * (Go 1.18+): a 32-byte header, then two varint-length strings.
 */
export function readGoBuildInfo(file: string): { go: string; deps: Map<string, string> } | null {
  return withFile(file, (fd) => {
    const eh = Buffer.alloc(64);
    if (fs.readSync(fd, eh, 0, 64, 0) < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null;
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    const shstrndx = eh.readUInt16LE(0x3e);
    if (shentsize !== 64 || shnum === 0 || shnum > 4096 || shstrndx >= shnum) return null;
    const sh = Buffer.alloc(shnum * 64);
    fs.readSync(fd, sh, 0, sh.length, shoff);
    const section = (i: number) => ({
      name: sh.readUInt32LE(i * 64),
      offset: Number(sh.readBigUInt64LE(i * 64 + 0x18)),
      size: Number(sh.readBigUInt64LE(i * 64 + 0x20)),
    });
    const strtab = section(shstrndx);
    const names = Buffer.alloc(Math.min(strtab.size, 1 << 16));
    fs.readSync(fd, names, 0, names.length, strtab.offset);
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      const end = names.indexOf(0, s.name);
      if (names.toString('latin1', s.name, end < 0 ? undefined : end) !== '.go.buildinfo') continue;
      const data = Buffer.alloc(Math.min(s.size, 1 << 20));
      fs.readSync(fd, data, 0, data.length, s.offset);
      if (data.toString('latin1', 0, 14) !== '\xff Go buildinf:' || !(data[15] & 2)) return null; // inline strings only
      let p = 32;
      const str = (): string => {
        let len = 0;
        let shift = 0;
        while (p < data.length) {
          const b = data[p++];
          len |= (b & 0x7f) << shift;
          if (!(b & 0x80)) break;
          shift += 7;
        }
        const out = data.toString('utf8', p, Math.min(data.length, p + len));
        p += len;
        return out;
      };
      const go = str();
      const deps = new Map<string, string>();
      for (const line of str().split('\n')) {
        const [kind, mod, version] = line.split('\t');
        if (kind === 'dep' || kind === 'mod') deps.set(mod, version ?? '');
      }
      return { go, deps };
    }
    return null;
  });
}

/** Every runtime name identifyRuntime() can give, besides 'go' (a Go program without one) and 'unknown'. */
export const KNOWN_RUNTIMES: readonly string[] = Object.freeze(RUNTIMES.map((r) => r.name));

/**
 * Results per executable or library file. Bounded: a host that builds and
 * runs new binaries all day (a CI runner under the watch) must not grow it forever.
 */
const cache = new Map<string, RuntimeInfo>();
const CACHE_ENTRIES = 4096;

function remember(key: string, info: RuntimeInfo): void {
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, info);
}

function cacheKey(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}:${st.mtimeMs}`;
  } catch {
    return file;
  }
}

/** The entry's version, from an npm package the file came in, or from the file's bytes. */
function readVersion(k: RuntimeEntry, file: string): string | null {
  const fromPackage = packageVersion(file);
  if (fromPackage) return fromPackage;
  for (const [literal, after] of k.version) {
    const v = scanVersion(file, literal, after);
    if (v) return v;
  }
  return null;
}

/** What a runtime file is, identified once per file (its version read once). */
function fromEntry(k: RuntimeEntry, file: string): RuntimeInfo {
  const key = `${k.name}:${cacheKey(file)}`;
  let info = cache.get(key);
  if (!info) {
    info = Object.freeze({ name: k.name, engine: k.engine, version: readVersion(k, file), jit: k.jit, modules: [file] });
    remember(key, info);
  }
  return info;
}

const UNKNOWN: RuntimeInfo = Object.freeze({ name: 'unknown', engine: '', version: null, jit: 'unknown', modules: [] });

/** The runtime an executable is by its name alone (no file is read): for the host's every exec. */
export function entryByExecutable(exe: string): RuntimeEntry | undefined {
  const base = path.basename(exe.replace(/ \(deleted\)$/, ''));
  return RUNTIMES.find((r) => r.executables.includes(base));
}

/**
 * Identifies the runtime from its executable path (/proc/PID/exe) and its
 * mappings: a runtime's own executable, else a runtime library mapped into
 * another program (the embedder), else a Go program's build information.
 */
export function identifyRuntime(exe: string, maps: MapEntry[] = []): RuntimeInfo {
  const exePath = exe.replace(/ \(deleted\)$/, '');
  const known = entryByExecutable(exePath);
  if (known) return fromEntry(known, exePath);
  for (const m of maps) {
    if (!m.path.startsWith('/') || m.perms[2] !== 'x') continue;
    const k = libraryEntry(path.basename(m.path));
    if (k) return { ...fromEntry(k, m.path), embedder: path.basename(exePath) || 'an unknown program' };
  }
  const key = `go:${cacheKey(exePath)}`;
  let info = cache.get(key);
  if (!info) {
    const go = exePath ? readGoBuildInfo(exePath) : null;
    info = UNKNOWN;
    if (go) {
      const hit = RUNTIMES.map((r) => [r, r.goModules.find((mod) => go.deps.has(mod))] as const).find(([, mod]) => mod);
      info = hit
        ? { name: hit[0].name, engine: hit[0].engine, version: go.deps.get(hit[1]!) || null, jit: hit[0].jit, modules: [exePath] }
        : { name: 'go', engine: '', version: go.go.replace(/^go/, ''), jit: 'none', modules: [exePath] };
    }
    remember(key, info);
  }
  return info;
}

/**
 * One line for the banner: "node 20.20.2 (V8, JIT: RWX code space via mprotect)",
 * "wasmtime 49.0.0 (Cranelift, JIT: strictly W^X (write, then R+X)) embedded in python3.11".
 */
export function describeRuntime(r: RuntimeInfo): string {
  if (r.name === 'unknown') return 'not a known WebAssembly runtime';
  const jit: Record<JitModel, string> = {
    'rwx-mprotect': 'JIT: RWX code space via mprotect',
    'rwx-mmap': 'JIT: one RWX region via mmap',
    'wx-strict': 'JIT: strictly W^X (write, then R+X)',
    none: 'no run-time code generation',
    unknown: 'JIT model not known',
  };
  const embedded = r.embedder ? ` embedded in ${r.embedder}` : '';
  return `${r.name}${r.version ? ` ${r.version}` : ''} (${r.engine ? `${r.engine}, ` : ''}${jit[r.jit]})${embedded}`;
}
