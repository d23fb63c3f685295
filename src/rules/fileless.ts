/**
 * Executable code from files that are not on disk: a memfd, a file with no
 * name left (O_TMPFILE, unlinked before it was mapped), a file in /dev/shm.
 * Loaders use them to run native code without a W+X mapping and without a
 * file anyone could scan afterwards.
 */
import type { Finding } from '../alerts';
import { PROT_EXEC, TMPFS_MAGIC, type AnonSyscallEvent, type FileInfo, type MmapEvent, type MprotectEvent } from '../events';
import { syscallName } from '../syscalls';
import { hex, protNames } from './format';

const MAP_ANONYMOUS = 0x20;

export type MemoryFileOrigin = 'memfd' | 'unlinked' | 'shm';

/**
 * Where a file lives when it is not a file on disk, else null. A pseudo file
 * in no directory that is not a memfd is anonymous shared memory (a shared
 * anonymous mapping, SysV shm) or a device's: not a file anyone loads code from.
 */
export function memoryFileOrigin(f: FileInfo): MemoryFileOrigin | null {
  if (f.memfd) return 'memfd';
  if (f.detached) return null;
  if (f.nlink === 0) return 'unlinked';
  if (f.magic === TMPFS_MAGIC && f.path.startsWith('/dev/shm/')) return 'shm';
  return null;
}

/** The file as /proc/PID/maps would name it, a truncated path marked. */
export function fileName(f: FileInfo): string {
  if (f.truncated) return `…/${f.path}`;
  return f.detached ? f.path.replace(/^\//, '') : f.path;
}

const FROM: Record<MemoryFileOrigin, string> = {
  memfd: 'a memfd',
  unlinked: 'a deleted file',
  shm: '/dev/shm',
};

/**
 * A mapping made executable whose file is not on disk. `elf` reads the file's
 * first bytes (asked only here): an ELF file is a library being loaded,
 * anything else is code staged in it. Either way the mapping is not W+X.
 * When the mapping is gone before it can be read (a library loaded and
 * unloaded, a process that exited), the kernel's view of the layout decides:
 * the same file mapped right below the code is an object as a dynamic loader
 * lays one out.
 */
export function memoryFileRules(e: MmapEvent | MprotectEvent, elf: () => boolean | null): Finding[] {
  if (!e.ok || !e.file || !(e.prot & PROT_EXEC)) return [];
  if (e.kind === 'mmap' && e.flags & MAP_ANONYMOUS) return [];
  const origin = memoryFileOrigin(e.file);
  if (!origin) return [];
  const read = elf();
  const image = e.kind === 'mmap' && e.image;
  const isElf = read ?? image;
  const elfText = read === null ? (image ? 'inferred (the file is mapped right below its code, as a loader lays out a library)' : 'unknown') : read ? 'yes' : 'no';
  const name = fileName(e.file);
  const syscall = e.kind === 'mmap' ? 'mmap' : e.syscall;
  const addr = e.kind === 'mmap' ? e.result : e.addr;
  const evidence =
    `file=${name} origin=${origin} links=${e.file.nlink} elf=${elfText} ` +
    `${syscall} prot=${protNames(e.prot)} addr=${hex(addr)} len=${e.length} pid=${e.pid} tid=${e.tid} comm=${e.comm}`;
  if (isElf) {
    return [
      {
        rule: 'memory.fileless-library',
        key: `${e.pid}:${name}`,
        level: 'CRITICAL',
        category: 'MEMORY',
        title: `Library loaded from ${FROM[origin]}: ${name}`,
        description: 'native code with no file on disk behind it was mapped executable — a library loaded from memory, as droppers do to leave nothing to scan',
        evidence,
        pid: e.pid,
      },
    ];
  }
  return [
    {
      rule: 'memory.fileless-code',
      key: `${e.pid}:${name}`,
      level: 'HIGH',
      category: 'MEMORY',
      title: `Executable code mapped from ${FROM[origin]}: ${name}`,
      description: 'memory backed by a file that is not on disk was made executable — code staged without a W+X mapping',
      evidence,
      pid: e.pid,
    },
  ];
}

/** A syscall issued from code in a memfd's mapping: the process executes from the in-memory file. */
export function memfdSyscallRules(e: AnonSyscallEvent): Finding[] {
  if (!e.memfd) return [];
  const name = fileName(e.memfd);
  return [
    {
      rule: 'memory.fileless-syscall',
      key: `${e.pid}:${name}`,
      level: 'CRITICAL',
      category: 'MEMORY',
      title: `Syscall from code in a memfd: ${name}`,
      description: 'code in an in-memory file issued a raw syscall — fileless shellcode',
      evidence: `file=${name} syscall=${syscallName(e.nr)}(${e.nr}) ip=${hex(e.ip)} region=${hex(e.vmaStart)}-${hex(e.vmaEnd)} pid=${e.pid} tid=${e.tid} comm=${e.comm}`,
      pid: e.pid,
    },
  ];
}
