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
import { parseMaps, type MapEntry } from '../proc/parse';
import { MAPS_BYTES, readBounded, readHead } from '../proc/read';

const REFRESH_MS = 100;
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
