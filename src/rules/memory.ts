/** W+X memory, W^X violations, RWX regions. */
import type { Finding } from '../alerts';
import { PROT_EXEC, PROT_WRITE, VM_EXEC, VM_WRITE, type MmapEvent, type MprotectEvent, type ProcRwxEvent } from '../events';
import { hex, mapFlagNames, protNames, resultText } from './format';

const who = (e: { pid: number; tid: number; comm: string }) => `pid=${e.pid} tid=${e.tid} comm=${e.comm}`;

export function mmapRules(e: MmapEvent): Finding[] {
  if (!(e.prot & PROT_WRITE) || !(e.prot & PROT_EXEC)) return [];
  const backing = e.fd >= 0 ? `fd=${e.fd}` : 'anonymous';
  return [
    {
      rule: 'memory.wx-mmap',
      key: `${e.pid}:${e.fd >= 0 ? 'file' : 'anon'}`,
      level: 'CRITICAL',
      category: 'MEMORY',
      title: 'W+X mmap() via eBPF tracepoint',
      description: `${protNames(e.prot & (PROT_WRITE | PROT_EXEC))} mapping — fileless shellcode staging`,
      evidence:
        `prot=${e.prot} ` +
        (e.ok ? `addr=${hex(e.result)} ` : `failed=${resultText(e.result)} `) +
        `len=${e.length} flags=${mapFlagNames(e.flags)} ${backing} ${who(e)}`,
      pid: e.pid,
      wxRegion: e.ok ? { start: e.result, from: 'kernel' } : undefined,
    },
  ];
}

export function mprotectRules(e: MprotectEvent): Finding[] {
  if (!e.ok || !(e.prot & PROT_EXEC)) return [];
  const old = e.oldFlags;
  const before = old === null ? 'unknown' : `${old & 1 ? 'r' : '-'}${old & VM_WRITE ? 'w' : '-'}${old & VM_EXEC ? 'x' : '-'}`;
  const evidence = `prot=${e.prot} addr=${hex(e.addr)} len=${e.length} was=${before} ${who(e)}`;
  if (e.prot & PROT_WRITE) {
    return [
      {
        rule: 'memory.wx-mprotect',
        key: `${e.pid}`,
        level: 'CRITICAL',
        category: 'MEMORY',
        title: `W+X ${e.syscall}() via eBPF tracepoint`,
        description: 'memory made writable and executable at once — code patching or shellcode staging',
        evidence,
        pid: e.pid,
        wxRegion: { start: e.addr, from: 'kernel' },
      },
    ];
  }
  if (old !== null && old & VM_WRITE && !(old & VM_EXEC)) {
    return [
      {
        rule: 'memory.wx-violation',
        key: `${e.pid}`,
        level: 'HIGH',
        category: 'MEMORY',
        title: `W^X violation: ${e.syscall}() made written memory executable`,
        description: 'memory that was writable became executable — unpacked or injected code',
        evidence,
        pid: e.pid,
      },
    ];
  }
  return [
    {
      rule: 'memory.exec-grant',
      key: `${e.pid}`,
      level: 'MEDIUM',
      category: 'MEMORY',
      title: `${e.syscall}() made memory executable`,
      description: 'memory that was not executable became executable',
      evidence,
      pid: e.pid,
    },
  ];
}

export function rwxRegionRules(e: ProcRwxEvent): Finding[] {
  return [
    {
      rule: 'memory.rwx-region',
      key: `${e.pid}:${e.start}`,
      level: 'CRITICAL',
      category: 'MEMORY',
      title: 'RWX memory region in /proc maps',
      description: 'a readable, writable and executable mapping — shellcode staging area',
      evidence: `${hex(e.start)}-${hex(e.end)} ${e.perms} ${e.path || 'anonymous'} size=${e.end - e.start} pid=${e.pid}`,
      pid: e.pid,
      wxRegion: { start: e.start, from: 'maps' },
    },
  ];
}
