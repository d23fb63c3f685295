/**
 * Where an alert came from: the user stack the kernel walked at the event,
 * named frame by frame. JIT code is named from the runtime's symbol map
 * (/tmp/perf-PID.map), code of a mapped file from its ELF symbols, through
 * the process's mappings. The innermost WASM function, the import it called
 * out through and the JavaScript host function behind it make the summary.
 *
 * A stack is only ever read for naming: the names come from files the target
 * writes or maps, and no verdict depends on them.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MapsCache } from '../runtime/callsite';
import { symbolAt } from '../runtime/elf';
import type { StackScan, UserStack } from '../events';
import { parseJitName, type FrameKind } from './names';
import { PerfMap, perfMapPath } from './perfmap';

export interface OriginFrame {
  /** The return address (the instruction pointer for the first frame), hex. */
  address: string;
  /** The file mapped there, 'jit' for code the runtime generated, null if unknown. */
  object: string | null;
  symbol: string | null;
  kind: FrameKind;
  /** Found in the copied stack words past where the kernel's walk stopped, rather than walked by the kernel. */
  scanned?: true;
}

export interface Origin {
  /** The innermost WASM function on the stack. */
  wasm: { function: string; index: number | null; tier: string | null } | null;
  /** The import through which WASM called out (V8 names the import, not its module: module is then null). */
  import: { module: string | null; name: string; index: number | null } | null;
  /** The JavaScript host function the import ran (or the innermost JavaScript frame). */
  host: { function: string; file: string | null; line: number | null; column: number | null } | null;
  /** One line: `wasm tick (func 1) → import run → hostRun (host.js:2)`. */
  summary: string;
  /** Why no WASM function is named, when none is. */
  note: string | null;
  frames: OriginFrame[];
}

/** Status of a JIT map, for the report. */
export interface PerfMapStatus {
  pid: number;
  path: string;
  found: boolean;
  entries: number;
  rejected: number;
  capped: boolean;
}

/** Processes whose maps are read at most (a fork storm cannot make the monitor read thousands). */
const MAX_PERF_MAPS = 64;
const MIN_ADDRESS = 0x1000;
const MAX_ADDRESS = 0x7fffffffffff;
/** libc's wrappers: the syscall's own frame, not the caller. */
const LIBC = /\/(?:libc|libpthread|ld-linux[^/]*)(?:[-.][^/]*)?\.so(?:\.\d+)*$/;

/** How to make a runtime write its JIT map, by runtime name. */
export const MAP_HINTS: Record<string, string> = {
  node: 'start node with --perf-basic-prof to name WASM functions (and --interpreted-frames-native-stack to name JavaScript host functions)',
  deno: 'start deno with --v8-flags=--perf-basic-prof,--interpreted-frames-native-stack to name WASM functions',
  bun: 'Bun writes no perf map: WASM functions cannot be named',
  wasmtime: 'run wasmtime with --profile=perfmap to name WASM functions',
  workerd: 'start workerd with --perf-basic-prof in its V8 flags to name WASM functions',
};

function hint(runtime: string | null): string {
  return (runtime && MAP_HINTS[runtime]) || 'the runtime writes no JIT symbol map (/tmp/perf-PID.map): WASM functions cannot be named';
}

/** Frames recovered from a stack copy at most. */
const MAX_RECOVERED = 48;

/**
 * Frames the kernel's walk could not reach, from a copy of the stack: the
 * first word that returns into JIT code, with a frame pointer just below it
 * pointing further up the copy, starts a chain that is walked as the kernel
 * walks (saved frame pointer, then return address). Code that keeps frame
 * pointers (V8's generated code does) chains; a stale word left in a frame
 * of code that does not rarely passes the checks.
 */
export function recoverFrames(scan: StackScan, isJit: (addr: number) => boolean): number[] {
  const { sp, words } = scan;
  const end = sp + words.length * 8;
  const inWindow = (fp: number) => fp >= sp && fp + 16 <= end && (fp - sp) % 8 === 0;
  let best: number[] = [];
  for (let j = 1; j < words.length; j++) {
    const ret = words[j];
    if (ret < MIN_ADDRESS || ret > MAX_ADDRESS || !isJit(ret - 1)) continue;
    const fp = sp + (j - 1) * 8;
    const saved = words[j - 1];
    // the frame this return address belongs to must link to one further up (or end the copy)
    if (!(saved > fp && saved <= MAX_ADDRESS && (inWindow(saved) || saved >= end))) continue;
    const out = [ret];
    let cur = saved;
    while (inWindow(cur) && out.length < MAX_RECOVERED) {
      const i = (cur - sp) / 8;
      const next = words[i];
      const r = words[i + 1];
      if (r < MIN_ADDRESS || r > MAX_ADDRESS) break;
      out.push(r);
      if (next <= cur) break;
      cur = next;
    }
    // a lone frame is as likely a stale word as a frame: a chain of two or more decides
    if (out.length >= 2) return out;
    if (best.length === 0) best = out;
  }
  return best;
}

/** The frames worth naming: user addresses, up to the first that cannot be one, without repeats of a stuck walk. */
export function usableFrames(frames: readonly number[]): number[] {
  const out: number[] = [];
  for (const f of frames) {
    if (!Number.isSafeInteger(f) || f < MIN_ADDRESS || f > MAX_ADDRESS) break;
    if (out.length > 0 && out[out.length - 1] === f) continue;
    out.push(f);
  }
  return out;
}

export class Symbolizer {
  private readonly perfMaps = new Map<number, PerfMap>();

  constructor(private readonly maps: MapsCache) {}

  private perfMap(pid: number): PerfMap | null {
    let map = this.perfMaps.get(pid);
    if (!map) {
      if (this.perfMaps.size >= MAX_PERF_MAPS) return null;
      map = new PerfMap(perfMapPath(pid));
      this.perfMaps.set(pid, map);
    }
    map.refresh();
    return map;
  }

  /**
   * Names the frames of a stack walked in process `pid` (for an exec, the
   * process it was forked from: the stack is a copy of its parent's).
   * `runtime`: the process's runtime name, for the note when nothing is named.
   */
  resolve(pid: number, stack: UserStack, runtime: string | null): Origin {
    const walked = usableFrames(stack.frames);
    const jit = this.perfMap(pid);
    // the walk stopped early: frames of code with frame pointers further up, from the stack copy
    const recovered = stack.scan && jit?.found ? recoverFrames(stack.scan, (a) => jit.lookup(a) !== null).filter((a) => !walked.includes(a)) : [];
    const addresses = [...walked, ...recovered];
    const frames: OriginFrame[] = [];
    const parsed = addresses.map((addr, i) => {
      // a return address points past its call: look up the call itself
      const at = i === 0 ? addr : addr - 1;
      const jitName = jit?.lookup(at) ?? null;
      const scanned = i >= walked.length ? ({ scanned: true } as const) : {};
      if (jitName !== null) {
        const name = parseJitName(jitName);
        frames.push({ address: hex(addr), object: 'jit', symbol: jitName, kind: name.kind, ...scanned });
        return name;
      }
      const m = this.maps.find(pid, at);
      if (m && m.path.startsWith('/')) {
        const file = m.path.endsWith(' (deleted)') ? m.path.slice(0, -' (deleted)'.length) : m.path;
        const symbol = m.perms[2] === 'x' ? symbolAt(procFile(pid, m.start, m.end, file), m.offset + (at - m.start)) : null;
        frames.push({ address: hex(addr), object: file, symbol, kind: m.perms[2] === 'x' ? 'native' : 'unknown', ...scanned });
      } else {
        frames.push({ address: hex(addr), object: m ? m.path || null : null, symbol: null, kind: 'unknown', ...scanned });
      }
      return null;
    });

    const wasmAt = parsed.findIndex((p) => p?.kind === 'wasm');
    let importAt = -1;
    for (let i = (wasmAt >= 0 ? wasmAt : parsed.length) - 1; i >= 0; i--) {
      if (parsed[i]?.import) {
        importAt = i;
        break;
      }
    }
    // the host function: the JavaScript frame the import (or WASM) called, the outermost one inside it
    let hostAt = -1;
    const below = importAt >= 0 ? importAt : wasmAt;
    if (below >= 0) {
      for (let i = below - 1; i >= 0; i--) {
        if (parsed[i]?.kind === 'js') {
          hostAt = i;
          break;
        }
      }
    } else {
      // no WASM: the innermost JavaScript of the program itself, past the runtime's own (node:, ext:)
      hostAt = parsed.findIndex((p) => p?.kind === 'js' && !!p.file && !/^(?:node|ext):/.test(p.file));
      if (hostAt < 0) hostAt = parsed.findIndex((p) => p?.kind === 'js');
    }
    const w = wasmAt >= 0 ? parsed[wasmAt]! : null;
    const imp = importAt >= 0 ? parsed[importAt]!.import! : null;
    const h = hostAt >= 0 ? parsed[hostAt]! : null;
    const origin: Origin = {
      wasm: w ? { function: w.name, index: w.index ?? null, tier: w.tier ?? null } : null,
      import: imp ? { module: null, name: imp.name, index: imp.index } : null,
      host: h ? { function: h.name || '(anonymous)', file: h.file ?? null, line: h.line ?? null, column: h.column ?? null } : null,
      summary: '',
      note: null,
      frames,
    };
    origin.summary = summarize(origin, frames);
    if (!w) origin.note = this.why(stack, frames, jit, runtime);
    return origin;
  }

  private why(stack: UserStack, frames: OriginFrame[], jit: PerfMap | null, runtime: string | null): string {
    if (stack.error < 0) return `the kernel could not walk the user stack (error ${stack.error})`;
    if (frames.length === 0) return 'the kernel walked no user frames';
    if (!jit?.found) return `no JIT symbol map at ${jit?.path ?? '/tmp/perf-PID.map'}: ${hint(runtime)}`;
    if (frames.some((f) => f.object === 'jit')) return 'no WASM function on the stack (JavaScript or runtime code made the call)';
    if (frames.length < 4) return `the stack walk ended after ${frames.length} frame${frames.length === 1 ? '' : 's'} (code without frame pointers)`;
    return 'no frame on the stack is in code the JIT map names';
  }

  statuses(): PerfMapStatus[] {
    return [...this.perfMaps.entries()].map(([pid, m]) => ({ pid, path: m.path, found: m.found, entries: m.size, rejected: m.rejected, capped: m.capped }));
  }

  forget(pid: number): void {
    this.perfMaps.delete(pid);
  }
}

/** The mapped file through /proc (it may be deleted, or in another mount namespace), else its path. */
function procFile(pid: number, start: number, end: number, file: string): string {
  const viaProc = `/proc/${pid}/map_files/${start.toString(16)}-${end.toString(16)}`;
  try {
    fs.accessSync(viaProc);
    return viaProc;
  } catch {
    return file;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function where(file: string | null, line: number | null): string {
  if (!file) return '';
  return line !== null ? ` (${path.basename(file)}:${line})` : ` (${path.basename(file)})`;
}

/** One line: the WASM function, the import, the host function; or the best the stack offers. */
function summarize(o: Origin, frames: OriginFrame[]): string {
  const parts: string[] = [];
  if (o.wasm) parts.push(`wasm ${o.wasm.function}${o.wasm.index !== null ? ` (func ${o.wasm.index})` : ''}`);
  if (o.import) parts.push(`import ${o.import.module ? `${o.import.module}.` : ''}${o.import.name}`);
  if (o.host) parts.push(`${o.wasm || o.import ? '' : 'js '}${o.host.function}${where(o.host.file, o.host.line)}`);
  if (parts.length > 0) return parts.join(' → ');
  // no JIT frame named: the first native caller outside libc's wrappers
  const caller = frames.find((f) => f.symbol && f.object !== 'jit' && !(f.object && LIBC.test(f.object))) ?? frames.find((f) => f.symbol);
  if (caller) return `native ${caller.symbol}${caller.object && caller.object !== 'jit' ? ` (${path.basename(caller.object)})` : ''}`;
  return frames.length > 0 ? `unknown code at ${frames[0].address}` : 'no user frames';
}

/**
 * Removes the JIT maps (/tmp/perf-PID.map), and V8's logs beside them in
 * `cwd`, that processes started under monitoring wrote because the monitor
 * turned the maps on: only regular files created since `sinceMs`, never one
 * an earlier process with a reused pid left, never through a symlink.
 * Returns the files removed.
 */
export function removeJitMaps(pids: Iterable<number>, sinceMs: number, cwd?: string): string[] {
  const wanted = new Set(pids);
  const files = [...wanted].map(perfMapPath);
  // V8 logs beside its map: isolate-0xADDR-PID-v8.log in the working directory
  if (cwd) {
    try {
      for (const name of fs.readdirSync(cwd)) {
        const m = /^isolate-0x[0-9a-f]{1,16}-(\d+)-v8\.log$/.exec(name);
        if (m && wanted.has(Number(m[1]))) files.push(path.join(cwd, name));
      }
    } catch {
      // unreadable: nothing of it to remove
    }
  }
  const removed: string[] = [];
  for (const file of files) {
    try {
      const st = fs.lstatSync(file);
      const born = st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
      if (!st.isFile() || born < sinceMs) continue;
      fs.unlinkSync(file);
      removed.push(file);
    } catch {
      // not there: nothing to remove
    }
  }
  return removed;
}

/** Whether the process has a JIT map now. */
export function hasJitMap(pid: number): boolean {
  try {
    return fs.lstatSync(perfMapPath(pid)).isFile();
  } catch {
    return false;
  }
}

/** The note a report gives when the target's WASM functions cannot be named, or null. */
export function mapNote(pid: number, runtime: string | null): string | null {
  if (hasJitMap(pid)) return null;
  return `no JIT symbol map at ${perfMapPath(pid)}: ${hint(runtime)}`;
}

/** The console's line under an alert's evidence. */
export function originLine(o: Origin): string {
  return o.wasm || !o.note ? `from ${o.summary}` : `from ${o.summary} (${o.note})`;
}
