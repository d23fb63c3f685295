/**
 * Where in a process a syscall came from: the runtime's own binary, another
 * library, or anonymous memory. The syscall instruction itself is usually in
 * libc's wrapper, so the caller is found among the user stack words captured
 * with the event: the first that points into executable code outside libc.
 *
 * Mappings are read from /proc/PID/maps and cached per process; a lookup
 * that misses re-reads them (at most every REFRESH_MS), since a miss usually
 * means a library or code region appeared since the last read.
 */
import type { FileInfo } from '../events';
import { parseMaps, type MapEntry } from '../proc/parse';
import { MAPS_BYTES, readBounded, readHead } from '../proc/read';

const REFRESH_MS = 100;
const PAGE = 4096;
const MAP_SHARED = 0x01;
const MAP_ANONYMOUS = 0x20;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const MAX_MAP_ENTRIES = 65536;
/** The C library and dynamic loader: syscall wrappers, not callers. */
const LIBC = /\/(?:libc|libpthread|ld-linux[^/]*|ld-musl[^/]*|libc\.musl[^/]*)(?:[-.][^/]*)?\.so(?:\.\d+)*$|\/ld-linux-x86-64\.so\.2$/;

export interface CallSite {
  /** 'file': code of a mapped file; 'anonymous': anonymous executable memory; 'unknown': could not tell. */
  kind: 'file' | 'anonymous' | 'unknown';
  /** The file, for kind 'file'. */
  path: string;
  /** The address that decided it (the syscall ip or a return address). */
  address: number;
  /** For kind 'file': where that address is in the file (to read the instruction there). */
  offset?: number;
}

interface Cached {
  maps: MapEntry[];
  readAt: number;
}

export class MapsCache {
  private readonly byPid = new Map<number, Cached>();

  private read(pid: number): Cached | undefined {
    const now = Date.now();
    const cached = this.byPid.get(pid);
    if (cached && now - cached.readAt < REFRESH_MS) return cached;
    try {
      const maps = parseMaps(readBounded(`/proc/${pid}/maps`, MAPS_BYTES).toString('utf8'), MAX_MAP_ENTRIES);
      const fresh = { maps, readAt: now };
      this.byPid.set(pid, fresh);
      return fresh;
    } catch {
      // gone: the last mappings seen are the best there is
      if (cached) cached.readAt = now;
      return cached;
    }
  }

  /** The mapping holding addr, re-reading the maps once if it is not in the cached ones. */
  find(pid: number, addr: number): MapEntry | null {
    let cached = this.byPid.get(pid);
    let hit = cached ? search(cached.maps, addr) : null;
    if (!hit) {
      cached = this.read(pid);
      hit = cached ? search(cached.maps, addr) : null;
    }
    return hit;
  }

  /** Current mappings (read now if not cached). */
  maps(pid: number): MapEntry[] {
    return (this.byPid.get(pid) ?? this.read(pid))?.maps ?? [];
  }

  /**
   * Whether the file mapped at addr starts with the ELF magic, read through
   * /proc/PID/map_files (the file itself, whatever its name or link count);
   * null if the mapping or its file is gone.
   */
  elfAt(pid: number, addr: number): boolean | null {
    for (let attempt = 0; attempt < 2; attempt++) {
      const m = this.find(pid, addr);
      if (!m) return null;
      const head = readHead(`/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`, ELF_MAGIC.length);
      if (head) return head.equals(ELF_MAGIC);
      // the mapping was split or replaced since the maps were read
      this.invalidate(pid);
    }
    return null;
  }

  /**
   * A mapping the process just made, applied to the cached mappings as the
   * kernel applied it (over whatever the range held), so the next lookup
   * sees it without reading /proc again: a burst of mmaps would otherwise
   * re-read the maps at every event. Without a cache or a file to name,
   * the cache is dropped and the next lookup reads afresh.
   */
  mapped(pid: number, m: { start: number; length: number; prot: number; flags: number; offset: number; fd: number; file: FileInfo | null }): void {
    const cached = this.byPid.get(pid);
    const length = Math.ceil(m.length / PAGE) * PAGE;
    if (!cached || length <= 0 || cached.maps.length >= MAX_MAP_ENTRIES || (m.fd >= 0 && !m.file && !(m.flags & MAP_ANONYMOUS))) {
      this.byPid.delete(pid);
      return;
    }
    const file = m.flags & MAP_ANONYMOUS ? null : m.file;
    const entry: MapEntry = {
      start: m.start,
      end: m.start + length,
      perms: `${m.prot & 1 ? 'r' : '-'}${m.prot & 2 ? 'w' : '-'}${m.prot & 4 ? 'x' : '-'}${m.flags & MAP_SHARED ? 's' : 'p'}`,
      offset: file ? m.offset : 0,
      inode: file?.ino ?? 0,
      path: file ? (file.nlink === 0 ? `${file.path} (deleted)` : file.path) : '',
    };
    cached.maps = overlay(cached.maps, entry);
  }

  /** After an exec the old mappings are gone. */
  invalidate(pid: number): void {
    this.byPid.delete(pid);
  }

  forget(pid: number): void {
    this.byPid.delete(pid);
  }

  /** Where a syscall at `ip`, with these stack words, was issued from. */
  callSite(pid: number, ip: number, stack: readonly number[]): CallSite {
    const at = this.find(pid, ip);
    if (!at) return { kind: 'unknown', path: '', address: ip };
    if (!at.path.startsWith('/') && at.path !== '[vdso]') return { kind: 'anonymous', path: '', address: ip };
    if (!LIBC.test(at.path)) return { kind: 'file', path: at.path, address: ip, offset: fileOffset(at, ip) };
    // In libc's wrapper: the caller's return address is among the first stack words.
    for (const word of stack) {
      if (word < 0x1000 || word > 0x7fffffffffff) continue;
      const m = this.find(pid, word);
      if (!m || m.perms[2] !== 'x') continue;
      if (!m.path.startsWith('/')) return { kind: 'anonymous', path: '', address: word };
      if (!LIBC.test(m.path)) return { kind: 'file', path: m.path, address: word, offset: fileOffset(m, word) };
    }
    return { kind: 'file', path: at.path, address: ip, offset: fileOffset(at, ip) };
  }
}

/** The sorted mappings with `m` laid over them: what it covers is cut out of the others. */
function overlay(maps: MapEntry[], m: MapEntry): MapEntry[] {
  const out: MapEntry[] = [];
  let placed = false;
  for (const x of maps) {
    if (x.end <= m.start || x.start >= m.end) {
      if (!placed && x.start >= m.end) {
        out.push(m);
        placed = true;
      }
      out.push(x);
      continue;
    }
    if (x.start < m.start) out.push({ ...x, end: m.start });
    if (!placed) {
      out.push(m);
      placed = true;
    }
    if (x.end > m.end) out.push({ ...x, start: m.end, offset: x.path ? x.offset + (m.end - x.start) : x.offset });
  }
  if (!placed) out.push(m);
  return out;
}

function fileOffset(m: MapEntry, addr: number): number {
  return m.offset + (addr - m.start);
}

function search(maps: MapEntry[], addr: number): MapEntry | null {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = maps[mid];
    if (addr < m.start) hi = mid - 1;
    else if (addr >= m.end) lo = mid + 1;
    else return m;
  }
  return null;
}

export function describeSite(site: CallSite): string {
  if (site.kind === 'anonymous') return `anonymous memory at 0x${site.address.toString(16)}`;
  if (site.kind === 'unknown') return 'unknown';
  return site.path;
}
