/**
 * Code generators a host carries besides a WebAssembly runtime, whose W+X
 * memory is benign: libffi's closure trampolines. Python's ctypes and cffi,
 * Ruby's and Lua's FFI make one for every callback handed to C (a host
 * function passed to wasmtime is one), and libffi's closure allocator maps
 * its pages read-write-execute where static trampolines are not built in.
 *
 * The excuse belongs to the allocator, not to libffi: an mmap through
 * ctypes (`libc.mmap(..., PROT_READ|PROT_WRITE|PROT_EXEC, ...)`) also
 * returns into libffi, but into ffi_call's indirect call of the function it
 * was handed. Only a return address right after libffi's own direct call to
 * mmap, for an anonymous private mapping of the size its allocator asks for,
 * is the closure allocator.
 */
import * as fs from 'fs';
import type { MmapEvent } from '../events';
import type { MapEntry } from '../proc/parse';
import type { CallSite } from './callsite';
import { directCallee } from './elf';

const LIBFFI = /\/libffi\.so(?:\.\d+)*$/;
/** libffi's allocator grows its pool by one granule (a page here, 64 KiB at most): closures are a few dozen bytes. */
export const FFI_POOL_MAX = 64 << 10;
const PAGE = 4096;
const MAP_PRIVATE = 0x02;
const MAP_TYPE_MASK = 0x0f;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;

export function isLibffi(path: string): boolean {
  return LIBFFI.test(path);
}

/** The W+X mmap is libffi's closure allocator growing its pool (see the module comment). */
export function isFfiClosureMmap(e: MmapEvent, site: CallSite): boolean {
  if (site.kind !== 'file' || site.offset === undefined || !isLibffi(site.path)) return false;
  const shape =
    e.fd < 0 && (e.flags & MAP_ANONYMOUS) !== 0 && (e.flags & MAP_TYPE_MASK) === MAP_PRIVATE && !(e.flags & MAP_FIXED) && e.length <= FFI_POOL_MAX;
  if (!shape) return false;
  const callee = directCallee(site.path, site.offset);
  return callee === 'mmap' || callee === 'mmap64';
}

/*
 * libffi's x86-64 trampolines, as a closure begins:
 * - 3.4 (with CET): endbr64; lea -11(%rip),%r10; jmp *7(%rip); nopl; then the target (8 bytes at +24);
 * - 3.3 and older: movabs $target,%r11; movabs $closure,%r10; jmp *%r11 (the target at +2).
 */
const TRAMP_CET = Buffer.from('f30f1efa4c8d15f5ffffffff25070000000f1f8000000000', 'hex');
const TRAMP_OLD_HEAD = Buffer.from([0x49, 0xbb]);
const TRAMP_OLD_MID = Buffer.from([0x49, 0xba]);
const TRAMP_OLD_TAIL = Buffer.from([0x49, 0xff, 0xe3]);

/** Addresses libffi trampolines in `page` jump to (page read from memory, 16-byte aligned closures). */
export function trampolineTargets(page: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 32 <= page.length; i += 16) {
    if (page.subarray(i, i + 24).equals(TRAMP_CET)) out.push(Number(page.readBigUInt64LE(i + 24)));
    else if (
      page.subarray(i, i + 2).equals(TRAMP_OLD_HEAD) &&
      page.subarray(i + 10, i + 12).equals(TRAMP_OLD_MID) &&
      page.subarray(i + 20, i + 23).equals(TRAMP_OLD_TAIL)
    ) {
      out.push(Number(page.readBigUInt64LE(i + 2)));
    }
  }
  return out;
}

/**
 * An RWX region found in /proc that holds libffi closures: anonymous and
 * private, no larger than libffi's pool grows, in a process with libffi's
 * code mapped, and every page of it holding a trampoline into that code. What made
 * it cannot be known from /proc (see SECURITY.md), so this is evidence of
 * shape and content, not of origin.
 */
export function isFfiClosurePage(pid: number, region: { start: number; end: number; perms: string; path: string }, maps: MapEntry[]): boolean {
  if (region.path !== '' || region.perms !== 'rwxp' || region.end - region.start > FFI_POOL_MAX) return false;
  const ffiCode = maps.filter((m) => m.perms[2] === 'x' && isLibffi(m.path));
  if (ffiCode.length === 0) return false;
  const bytes = readMemory(pid, region.start, region.end - region.start);
  if (!bytes) return false;
  // every page: an RWX mapping placed next to a closure page merges with it into one region
  for (let at = 0; at < bytes.length; at += PAGE) {
    const targets = trampolineTargets(bytes.subarray(at, at + PAGE));
    if (!targets.some((t) => ffiCode.some((m) => t >= m.start && t < m.end))) return false;
  }
  return true;
}

function readMemory(pid: number, addr: number, length: number): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, addr);
    return n === length ? buf : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
