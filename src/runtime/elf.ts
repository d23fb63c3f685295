/**
 * Just enough of an ELF file for two questions: which imported function a
 * call instruction calls (the loadable segments, file offset <-> address, and
 * the relocations naming the symbol behind each GOT slot), and which function
 * an address of a mapped file is in (.symtab, else .dynsym). Read from the
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
/** Function symbols read from one file at most, and the bytes of its string table. */
const MAX_SYMBOLS = 1 << 20;
const MAX_STRINGS = 64 << 20;
const cache = new Map<string, Imports | null>();
const CACHE_ENTRIES = 256;
const symbolCache = new Map<string, Symbols | null>();
/** Symbol tables kept (a runtime's binary can hold 100k functions). */
const SYMBOL_CACHE_ENTRIES = 8;

/** Opens a file, hands the descriptor to `read`, closes it; null if it cannot be opened or `read` throws. */
export function withFile<T>(file: string, read: (fd: number) => T | null): T | null {
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

function read(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = fs.readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
}

interface Headers {
  segments: Segment[];
  sections: Section[];
}

/** The loadable segments and the section headers (ELF64 little-endian only), or null. */
function headers(fd: number): Headers | null {
  const eh = read(fd, 0, 64);
  if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null;
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
  const sections: Section[] = [];
  for (let i = 0; i + 64 <= sh.length; i += 64) {
    sections.push({
      type: sh.readUInt32LE(i + 4),
      offset: Number(sh.readBigUInt64LE(i + 0x18)),
      size: Number(sh.readBigUInt64LE(i + 0x20)),
      link: sh.readUInt32LE(i + 0x28),
    });
  }
  return { segments, sections };
}

function parse(file: string): Imports | null {
  return withFile(file, (fd) => {
    const h = headers(fd);
    if (!h) return null;
    const { segments, sections } = h;
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
  });
}

/** A file's function symbols, sorted by address; names stay in the string table until asked for. */
interface Symbols {
  segments: Segment[];
  starts: Float64Array;
  sizes: Float64Array;
  names: Uint32Array;
  strings: Buffer;
}

function parseSymbols(file: string): Symbols | null {
  return withFile(file, (fd) => {
    const h = headers(fd);
    if (!h) return null;
    // the full table when the file has one, else the dynamic one (stripped libraries)
    const table = h.sections.find((s) => s.type === 2) ?? h.sections.find((s) => s.type === 11); // SHT_SYMTAB, SHT_DYNSYM
    const strtab = table && h.sections[table.link];
    if (!table || !strtab || strtab.size > MAX_STRINGS) return null;
    const syms = read(fd, table.offset, Math.min(table.size, MAX_SYMBOLS * 24));
    const strings = read(fd, strtab.offset, strtab.size);
    const found: Array<[number, number, number]> = [];
    for (let i = 0; i + 24 <= syms.length; i += 24) {
      const info = syms[i + 4];
      const shndx = syms.readUInt16LE(i + 6);
      if ((info & 0xf) !== 2 || shndx === 0) continue; // STT_FUNC, defined here
      const value = Number(syms.readBigUInt64LE(i + 8));
      const size = Number(syms.readBigUInt64LE(i + 16));
      const name = syms.readUInt32LE(i);
      if (value === 0 || name >= strings.length) continue;
      found.push([value, size, name]);
    }
    found.sort((a, b) => a[0] - b[0]);
    return {
      segments: h.segments,
      starts: Float64Array.from(found, (f) => f[0]),
      sizes: Float64Array.from(found, (f) => f[1]),
      names: Uint32Array.from(found, (f) => f[2]),
      strings,
    };
  });
}

function symbols(file: string): Symbols | null {
  const key = fileKey(file);
  if (!key) return null;
  if (!symbolCache.has(key)) {
    if (symbolCache.size >= SYMBOL_CACHE_ENTRIES) symbolCache.delete(symbolCache.keys().next().value!);
    symbolCache.set(key, parseSymbols(file));
  }
  return symbolCache.get(key)!;
}

function fileKey(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

/**
 * The function of `file` holding the code at `offset` in the file, as
 * `name+0xdelta`, or null (no symbol covers it, or the file cannot be read).
 */
export function symbolAt(file: string, offset: number): string | null {
  const syms = symbols(file);
  if (!syms) return null;
  const seg = syms.segments.find((g) => offset >= g.offset && offset < g.offset + g.filesz);
  if (!seg) return null;
  const vaddr = offset - seg.offset + seg.vaddr;
  let lo = 0;
  let hi = syms.starts.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (syms.starts[mid] <= vaddr) {
      at = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (at < 0) return null;
  const delta = vaddr - syms.starts[at];
  // a sized symbol must contain the address; an unsized one is taken only close by
  if (syms.sizes[at] > 0 ? delta >= syms.sizes[at] : delta > 0x10000) return null;
  const start = syms.names[at];
  let end = syms.strings.indexOf(0, start);
  if (end < 0) end = syms.strings.length;
  const name = syms.strings.toString('latin1', start, Math.min(end, start + 512));
  return name ? `${name}+0x${delta.toString(16)}` : null;
}

function imports(file: string): Imports | null {
  const key = fileKey(file);
  if (!key) return null;
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
  return withFile(file, (fd) => {
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
  });
}
