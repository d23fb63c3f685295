/**
 * Which WebAssembly runtime a process is, and how its JIT is known to treat
 * memory, from its executable and the libraries it has mapped. Nothing of the
 * target is executed: versions come from the binary's own bytes or the npm
 * package it was installed from.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MapEntry } from '../proc/parse';

/**
 * How the runtime's own code legitimately makes code memory:
 * - rwx-mprotect: V8 (Node, workerd, Deno) mprotects its code space to RWX (or RX);
 * - rwx-mmap: JavaScriptCore (Bun) maps one RWX region for its JIT;
 * - wx-strict: Cranelift/LLVM/wazero compilers write code, then flip it to R+X, never W+X;
 * - none: an interpreter or AOT runtime that makes no code at run time;
 * - unknown: not a runtime wasmshark knows: nothing is expected.
 */
export type JitModel = 'rwx-mprotect' | 'rwx-mmap' | 'wx-strict' | 'none' | 'unknown';

export interface RuntimeInfo {
  /** node, bun, workerd, deno, wasmtime, wasmer, wasmedge, iwasm, wazero, go, or unknown. */
  name: string;
  /** The engine that compiles code: V8, JavaScriptCore, Cranelift, ... ('' if none). */
  engine: string;
  version: string | null;
  jit: JitModel;
  /** Files whose code is the runtime's own (its executable or embedded runtime library). */
  modules: string[];
}

interface Known {
  name: string;
  engine: string;
  jit: JitModel;
  /** Reads the version from the binary's bytes: [literal to find, pattern applied after it]. */
  version?: [string, RegExp];
}

/** By executable name. */
const EXECUTABLES: Record<string, Known> = {
  node: { name: 'node', engine: 'V8', jit: 'rwx-mprotect', version: ['/download/release/v', /^(\d+\.\d+\.\d+)\//] },
  nodejs: { name: 'node', engine: 'V8', jit: 'rwx-mprotect', version: ['/download/release/v', /^(\d+\.\d+\.\d+)\//] },
  bun: { name: 'bun', engine: 'JavaScriptCore', jit: 'rwx-mmap', version: ['Bun v', /^(\d+\.\d+\.\d+)/] },
  workerd: { name: 'workerd', engine: 'V8', jit: 'rwx-mprotect' },
  // Deno compiles in its user agent in both release forms, "Deno/2.9.6" and "Deno/2.9.6+<commit>"; only the
  // second is unmistakable (a bundled exporter's "…-Deno/0.80.0" comes earlier in the binary)
  deno: { name: 'deno', engine: 'V8', jit: 'rwx-mprotect', version: ['Deno/', /^(\d+\.\d+\.\d+)\+[0-9a-f]{7,40}/] },
  wasmtime: { name: 'wasmtime', engine: 'Cranelift', jit: 'wx-strict', version: ['wasmtime ', /^(\d+\.\d+\.\d+)/] },
  wasmer: { name: 'wasmer', engine: 'Cranelift/LLVM/Singlepass', jit: 'wx-strict', version: ['wasmer ', /^(\d+\.\d+\.\d+)/] },
  wasmedge: { name: 'wasmedge', engine: 'WasmEdge', jit: 'wx-strict' },
  iwasm: { name: 'iwasm', engine: 'WAMR', jit: 'unknown' },
};

/** By an embedded runtime library mapped into another program. */
const LIBRARIES: Array<[RegExp, Known]> = [
  [/^libnode\.so/, EXECUTABLES.node],
  [/^libwasmtime\.so/, EXECUTABLES.wasmtime],
  [/^libwasmer\.so/, EXECUTABLES.wasmer],
  [/^libwasmedge\.so/, EXECUTABLES.wasmedge],
  [/^lib(iwasm|vmlib)\.so/, EXECUTABLES.iwasm],
];

/** Go modules that embed a WebAssembly runtime. */
const GO_RUNTIMES: Array<[string, Known]> = [
  ['github.com/tetratelabs/wazero', { name: 'wazero', engine: 'wazero', jit: 'wx-strict' }],
  ['github.com/bytecodealliance/wasmtime-go', EXECUTABLES.wasmtime],
  ['github.com/wasmerio/wasmer-go', EXECUTABLES.wasmer],
  ['github.com/second-state/WasmEdge-go', EXECUTABLES.wasmedge],
];

const SCAN_LIMIT = 96 << 20;
const CHUNK = 4 << 20;

/** Runs `read` on the open file; null if it cannot be opened or `read` throws. */
function withFile<T>(file: string, read: (fd: number) => T | null): T | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    return read(fd);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

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
export const KNOWN_RUNTIMES: readonly string[] = Object.freeze(['node', 'deno', 'bun', 'workerd', 'wasmtime', 'wasmer', 'wasmedge', 'iwasm', 'wazero']);

/**
 * Results per executable file. Bounded: a host that builds and runs new
 * binaries all day (a CI runner under the watch) must not grow it forever.
 */
const cache = new Map<string, RuntimeInfo>();
const CACHE_ENTRIES = 4096;

function remember(key: string, info: RuntimeInfo): void {
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, info);
}

function cacheKey(exe: string): string {
  try {
    const st = fs.statSync(exe);
    return `${st.dev}:${st.ino}:${st.mtimeMs}`;
  } catch {
    return exe;
  }
}

function fromKnown(k: Known, file: string, modules: string[]): RuntimeInfo {
  const version = packageVersion(file) ?? (k.version ? scanVersion(file, k.version[0], k.version[1]) : null);
  return { name: k.name, engine: k.engine, version, jit: k.jit, modules };
}

const UNKNOWN: RuntimeInfo = Object.freeze({ name: 'unknown', engine: '', version: null, jit: 'unknown', modules: [] });

/**
 * Identifies the runtime from its executable path (/proc/PID/exe) and its
 * mappings. Results are cached per executable file.
 */
export function identifyRuntime(exe: string, maps: MapEntry[] = []): RuntimeInfo {
  const exePath = exe.replace(/ \(deleted\)$/, '');
  const base = path.basename(exePath);
  const known = EXECUTABLES[base];
  if (known) {
    const key = cacheKey(exePath);
    let info = cache.get(key);
    if (!info) {
      info = fromKnown(known, exePath, [exePath]);
      remember(key, info);
    }
    return info;
  }
  for (const m of maps) {
    if (!m.path.startsWith('/')) continue;
    const lib = path.basename(m.path);
    for (const [re, k] of LIBRARIES) if (re.test(lib)) return fromKnown(k, m.path, [m.path]);
  }
  const key = `go:${cacheKey(exePath)}`;
  let info = cache.get(key);
  if (!info) {
    const go = exePath ? readGoBuildInfo(exePath) : null;
    info = UNKNOWN;
    if (go) {
      const hit = GO_RUNTIMES.find(([mod]) => go.deps.has(mod));
      info = hit
        ? { name: hit[1].name, engine: hit[1].engine, version: go.deps.get(hit[0]) || null, jit: hit[1].jit, modules: [exePath] }
        : { name: 'go', engine: '', version: go.go.replace(/^go/, ''), jit: 'none', modules: [exePath] };
    }
    remember(key, info);
  }
  return info;
}

/** One line for the banner: "node 20.20.2 (V8, JIT: RWX code space via mprotect)". */
export function describeRuntime(r: RuntimeInfo): string {
  if (r.name === 'unknown') return 'not a known WebAssembly runtime';
  const jit: Record<JitModel, string> = {
    'rwx-mprotect': 'JIT: RWX code space via mprotect',
    'rwx-mmap': 'JIT: one RWX region via mmap',
    'wx-strict': 'JIT: strictly W^X (write, then R+X)',
    none: 'no run-time code generation',
    unknown: 'JIT model not known',
  };
  return `${r.name}${r.version ? ` ${r.version}` : ''} (${r.engine ? `${r.engine}, ` : ''}${jit[r.jit]})`;
}
