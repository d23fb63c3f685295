/**
 * Runtime-aware judgement of memory events. A runtime's own, known JIT
 * pattern (src/runtime/registry.ts) issued from its own code is expected
 * (INFO, not scored); the same operation from any other code is CRITICAL; a
 * syscall from anonymous executable memory is CRITICAL in every runtime.
 * libffi's closure pages are expected in any process (src/runtime/codegen.ts).
 */
import type { Finding } from '../alerts';
import { PROT_EXEC, PROT_WRITE, type AnonSyscallEvent, type MmapEvent, type MprotectEvent, type OpenEvent, type ProcRwxEvent, type SyscallEvent } from '../events';
import { describeSite, type CallSite } from '../runtime/callsite';
import { isFfiClosureMmap } from '../runtime/codegen';
import type { RuntimeInfo } from '../runtime/identify';
import { runtimeEntry, type CodeOp } from '../runtime/registry';
import { syscallName } from '../syscalls';
import { globToRegExp } from './config';
import { fileName } from './fileless';
import { hex } from './format';

type Op = CodeOp;

/** What the runtime does to make code, when its own code does it (nothing for a program not in the registry). */
function expected(runtime: RuntimeInfo): readonly Op[] {
  return runtimeEntry(runtime.name)?.expected ?? [];
}

function opOf(e: MmapEvent | MprotectEvent): Op | null {
  const wx = (e.prot & PROT_WRITE) !== 0 && (e.prot & PROT_EXEC) !== 0;
  if (e.kind === 'mmap') return wx ? 'rwx-map' : null;
  if (!(e.prot & PROT_EXEC)) return null;
  return wx ? 'rwx-protect' : 'rx-protect';
}

function what(op: Op): string {
  return op === 'rwx-map' ? 'W+X mmap()' : op === 'rwx-protect' ? 'W+X mprotect()' : 'mprotect() to executable';
}

/**
 * Re-judges the memory findings of one event with what is known of the
 * process's runtime and of where the call came from (asked for lazily).
 */
export function judgeMemory(
  e: MmapEvent | MprotectEvent,
  findings: Finding[],
  runtime: RuntimeInfo | null,
  site: () => CallSite,
): Finding[] {
  const op = opOf(e);
  if (!op || !e.ok) return findings;
  const start = e.kind === 'mmap' ? e.result : e.addr;
  const evidenceAt = (from: CallSite) => `prot=${e.prot} addr=${hex(start)} len=${e.length} site=${describeSite(from)} pid=${e.pid} tid=${e.tid}`;
  if (e.kind === 'mmap' && op === 'rwx-map') {
    const from = site();
    if (isFfiClosureMmap(e, from)) return [ffiClosure(e.pid, `libffi's closure allocator (${from.path}) mapped a page for callback trampolines`, evidenceAt(from), start, start + e.length)];
  }
  if (!runtime) return findings;
  if (!expected(runtime).includes(op)) {
    if (runtime.jit === 'wx-strict' && op !== 'rx-protect') {
      for (const f of findings) f.description = `${runtime.name} is strictly W^X and never makes W+X memory: ${f.description}`;
    }
    return findings;
  }
  const from = site();
  const evidence = evidenceAt(from);
  if (from.kind === 'file' && runtime.modules.includes(from.path)) {
    const made = op === 'rx-protect' ? 'executable' : 'W+X';
    const embedded = runtime.embedder ? ` (embedded in ${runtime.embedder})` : '';
    return [jitExpected(runtime, e.pid, `${runtime.name}'s JIT${embedded} made its code memory ${made} from its own code`, evidence, start, start + e.length)];
  }
  return [
    {
      rule: 'memory.jit-foreign-site',
      key: `${e.pid}:${from.kind === 'file' ? from.path : from.kind}`,
      level: 'CRITICAL',
      category: 'MEMORY',
      title: `${what(op)} from outside the runtime: ${from.kind === 'file' ? from.path : from.kind === 'anonymous' ? 'anonymous memory' : 'unknown code'}`,
      description: `${runtime.name}'s JIT does this from its own code; here other code did it — a native host function, an injected library or shellcode`,
      evidence,
      pid: e.pid,
      wxRegion: op === 'rx-protect' ? undefined : { start, from: 'kernel' },
    },
  ];
}

export function anonSyscallRules(e: AnonSyscallEvent): Finding[] {
  return [
    {
      rule: 'memory.anon-syscall',
      key: `${e.pid}`,
      level: 'CRITICAL',
      category: 'MEMORY',
      title: 'Syscall from anonymous executable memory',
      description: 'code outside any file issued a raw syscall — shellcode',
      evidence: `syscall=${syscallName(e.nr)}(${e.nr}) ip=${hex(e.ip)} region=${hex(e.vmaStart)}-${hex(e.vmaEnd)} pid=${e.pid} tid=${e.tid} comm=${e.comm}`,
      pid: e.pid,
    },
  ];
}

/**
 * An RWX region found in /proc maps. If the kernel reported how it was made,
 * that event decided it already. Otherwise, in a runtime whose JIT keeps RWX
 * code memory, an anonymous RWX region is its code space (made before
 * monitoring began, or seen without eBPF); anywhere else it is CRITICAL.
 */
export function judgeRwxRegion(
  e: ProcRwxEvent,
  findings: Finding[],
  runtime: RuntimeInfo | null,
  kernelKnown: boolean,
  ffiClosurePage: () => boolean = () => false,
): Finding[] {
  if (kernelKnown) return [];
  if (ffiClosurePage()) {
    const evidence = `${hex(e.start)}-${hex(e.end)} ${e.perms} size=${e.end - e.start} pid=${e.pid}`;
    return [ffiClosure(e.pid, 'an anonymous RWX page holding libffi closure trampolines into libffi, as its allocator makes; /proc alone cannot tell who made it', evidence, e.start, e.end)];
  }
  const rwxJit = runtime && (runtime.jit === 'rwx-mprotect' || runtime.jit === 'rwx-mmap');
  // anonymous memory: unnamed, named by prctl ([anon:...]), or next to the brk heap, which the
  // kernel then calls [heap] (workerd's 512 MiB code range lands there under some layouts)
  const anonymous = e.path === '' || e.path === '[heap]' || e.path.startsWith('[anon:');
  if (!rwxJit || !anonymous) return findings;
  const evidence = `${hex(e.start)}-${hex(e.end)} ${e.perms} size=${e.end - e.start} pid=${e.pid}`;
  return [jitExpected(runtime, e.pid, `an anonymous RWX region, as ${runtime.name}'s JIT keeps; /proc alone cannot tell who made it`, evidence, e.start, e.end)];
}

/** Secret-looking files a runtime reads as its own configuration, and what they are to it. */
const OWN_CONFIG: Record<string, Array<[RegExp, string]>> = {
  // seen on every start of Deno 2.x, before the main module is read
  deno: [[globToRegExp('**/.npmrc'), 'its npm registry configuration (registries and tokens for npm: specifiers) at start-up']],
};

/**
 * A sensitive file read by the runtime as its own configuration is expected
 * (INFO, not scored). Writing it is not, nor is any other process reading it.
 */
export function judgeOpen(e: OpenEvent, findings: Finding[], runtime: RuntimeInfo | null): Finding[] {
  const own = runtime && !e.write ? OWN_CONFIG[runtime.name]?.find(([re]) => re.test(e.file.path)) : undefined;
  if (!runtime || !own) return findings;
  return findings.map((f) =>
    f.rule !== 'file.sensitive'
      ? f
      : {
          rule: 'file.runtime-config',
          key: f.key,
          level: 'INFO',
          category: 'FILE',
          title: `Expected: ${runtime.name} reads ${fileName(e.file)}`,
          description: `${runtime.name} reads ${own[1]}; module code reading it through ${runtime.name}'s own file API is not told apart`,
          evidence: f.evidence,
          pid: f.pid,
        },
  );
}

/**
 * A runtime's own io_uring: libuv (Node) and Bun can do file I/O through a
 * ring, and what the ring does is judged request by request where the
 * io_uring hooks run, so making one is no finding for them (INFO). Any other
 * program making one keeps its level.
 */
const URING_RUNTIMES = new Set(['node', 'bun', 'deno']);

export function judgeSyscall(e: SyscallEvent, findings: Finding[], runtime: RuntimeInfo | null): Finding[] {
  if (e.name !== 'io_uring_setup' || !runtime || !URING_RUNTIMES.has(runtime.name)) return findings;
  return findings.map((f) =>
    f.rule !== 'syscall.io_uring_setup'
      ? f
      : {
          ...f,
          rule: 'syscall.io_uring-runtime',
          level: 'INFO',
          title: `Expected: ${runtime.name} made an io_uring instance`,
          description: `${runtime.name}'s event loop can do file I/O through io_uring; its requests are judged as the syscalls they replace`,
        },
  );
}

/** A libffi closure page: recorded, not scored. */
function ffiClosure(pid: number, description: string, evidence: string, start: number, end: number): Finding {
  return {
    rule: 'memory.ffi-closure',
    key: `${pid}`,
    level: 'INFO',
    category: 'MEMORY',
    title: 'Expected: libffi closure trampolines (a callback handed to C)',
    description,
    evidence,
    pid,
    jitRange: { start, end },
  };
}

/** The runtime's own JIT memory: recorded, not scored. */
function jitExpected(runtime: RuntimeInfo, pid: number, description: string, evidence: string, start: number, end: number): Finding {
  return {
    rule: 'memory.jit-expected',
    key: `${pid}`,
    level: 'INFO',
    category: 'MEMORY',
    title: `Expected JIT code space (${runtime.engine})`,
    description,
    evidence,
    pid,
    jitRange: { start, end },
  };
}
