/**
 * Just enough of a shared library's ELF to say which imported function a
 * call instruction calls: the loadable segments (file offset <-> address),
 * and the relocations naming the symbol behind each GOT slot. Read from the
 * file on disk once per file (by device, inode and mtime), bounded.
 */
import * as fs from 'fs';

interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
}

interface Imports {
  segments: Segment[];
  /** GOT slot address -> the symbol its relocation names. */
  slots: Map<number, string>;
}

const MAX_FILE = 256 << 20;
const MAX_RELOCS = 1 << 16;
const cache = new Map<string, Imports | null>();
const CACHE_ENTRIES = 256;

function read(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = fs.readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

function parse(file: string): Imports | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const eh = read(fd, 0, 64);
    if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null; // ELF64 little-endian only
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const phnum = eh.readUInt16LE(0x38);
    const shnum = eh.readUInt16LE(0x3c);
    if (phnum > 256 || shnum > 4096 || phoff > MAX_FILE || shoff > MAX_FILE) return null;
    const segments: Segment[] = [];
    const ph = read(fd, phoff, phnum * 56);
    for (let i = 0; i + 56 <= ph.length; i += 56) {
      if (ph.readUInt32LE(i) !== 1) continue; // PT_LOAD
      segments.push({ offset: Number(ph.readBigUInt64LE(i + 8)), vaddr: Number(ph.readBigUInt64LE(i + 16)), filesz: Number(ph.readBigUInt64LE(i + 32)) });
    }
    const sh = read(fd, shoff, shnum * 64);
    const sections = [];
    for (let i = 0; i + 64 <= sh.length; i += 64) {
      sections.push({
        type: sh.readUInt32LE(i + 4),
        offset: Number(sh.readBigUInt64LE(i + 0x18)),
        size: Number(sh.readBigUInt64LE(i + 0x20)),
        link: sh.readUInt32LE(i + 0x28),
      });
    }
    const slots = new Map<number, string>();
    // SHT_RELA sections whose symbols are the dynamic ones (.rela.plt, .rela.dyn)
    for (const rela of sections.filter((s) => s.type === 4)) {
      const dynsym = sections[rela.link];
      if (!dynsym || dynsym.type !== 11) continue; // SHT_DYNSYM
      const dynstr = sections[dynsym.link];
      if (!dynstr) continue;
      const rel = read(fd, rela.offset, Math.min(rela.size, MAX_RELOCS * 24));
      const syms = read(fd, dynsym.offset, Math.min(dynsym.size, MAX_RELOCS * 24));
      const strs = read(fd, dynstr.offset, Math.min(dynstr.size, 1 << 20));
      for (let i = 0; i + 24 <= rel.length; i += 24) {
        const sym = Number(rel.readBigUInt64LE(i + 8) >> 32n);
        if (sym === 0 || (sym + 1) * 24 > syms.length) continue;
        const nameAt = syms.readUInt32LE(sym * 24);
        const end = strs.indexOf(0, nameAt);
        if (nameAt >= strs.length || end < 0) continue;
        slots.set(Number(rel.readBigUInt64LE(i)), strs.toString('latin1', nameAt, end));
      }
    }
    return { segments, slots };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function imports(file: string): Imports | null {
  let key = file;
  try {
    const st = fs.statSync(file);
    key = `${st.dev}:${st.ino}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  if (!cache.has(key)) {
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, parse(file));
  }
  return cache.get(key)!;
}

function toVaddr(im: Imports, offset: number): number | null {
  const s = im.segments.find((g) => offset >= g.offset && offset < g.offset + g.filesz);
  return s ? offset - s.offset + s.vaddr : null;
}

function toOffset(im: Imports, vaddr: number): number | null {
  const s = im.segments.find((g) => vaddr >= g.vaddr && vaddr < g.vaddr + g.filesz);
  return s ? vaddr - s.vaddr + s.offset : null;
}

/**
 * The imported function the instruction just before a return address calls
 * directly (`call symbol@plt`, or `call *symbol@GOTPCREL(%rip)` with -fno-plt),
 * or null: an indirect call through a register (a function pointer) has no
 * name, and that is the point — libffi's closure allocator calls mmap
 * itself, while ffi_call reaches whatever function it was given through one.
 * `offset` is the return address's offset in the file.
 */
export function directCallee(file: string, offset: number): string | null {
  const im = imports(file);
  if (!im || offset < 6) return null;
  const ret = toVaddr(im, offset);
  if (ret === null) return null;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const before = read(fd, offset - 6, 6);
    if (before.length < 6) return null;
    if (before[0] === 0xff && before[1] === 0x15) return im.slots.get(ret + before.readInt32LE(2)) ?? null;
    if (before[1] !== 0xe8) return null;
    // a call to a PLT stub: [endbr64] [bnd] jmp *slot(%rip)
    const stub = ret + before.readInt32LE(2);
    const at = toOffset(im, stub);
    if (at === null) return null;
    const code = read(fd, at, 16);
    let i = 0;
    if (code.readUInt32BE(0) === 0xf30f1efa) i += 4;
    if (code[i] === 0xf2) i += 1;
    if (code[i] !== 0xff || code[i + 1] !== 0x25) return null;
    return im.slots.get(stub + i + 6 + code.readInt32LE(i + 2)) ?? null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
