/**
 * Finds the native addon and the precompiled BPF object that ship with the
 * package: a prebuild for this platform first, then a local build.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Package root: this file lives in src/ (tests) or dist/ (published). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');
export const BPF_OBJECT_PATH = path.join(PACKAGE_ROOT, 'bpf', 'wasmshark.bpf.o');
/** The same programs for kernels without bpf_loop() and bpf_find_vma() (5.8 to 5.16). */
export const BPF_LEGACY_OBJECT_PATH = path.join(PACKAGE_ROOT, 'bpf', 'wasmshark.legacy.bpf.o');

export interface NativeProgram {
  name: string;
  progId: number;
  linkId: number;
  /** With verifierStats: the deepest chain of stack frames as the verifier adds them up (its limit is 512). */
  stackBytes?: number;
  /** With verifierStats: instructions the verifier walked. */
  insnsProcessed?: number;
}

export interface NativeSessionOptions {
  objectPath: string;
  legacyObjectPath?: string;
  syscalls?: 'lean' | 'exact';
  backend?: 'auto' | 'trampoline' | 'tracepoint';
  /** Lean mode's hooks for 32-bit syscalls where int 0x80 works (default true). */
  compatHooks?: boolean;
  /** Ask the verifier for each program's stack depth and instruction count. */
  verifierStats?: boolean;
  countSyscalls?: boolean;
  watchExecs?: boolean;
  followChildren?: boolean;
  captureStacks?: boolean;
  ringbufBytes?: number;
  debug?: boolean;
  log?: (level: string, message: string) => void;
}

/** The addon's Session class (native/addon.cc). */
export interface NativeSession {
  /** onDrained: at stop, once the targets' records are delivered and before the probes detach. */
  start(onBatch: (batch: Buffer) => void, onError: (err: Error) => void, onDrained?: () => void): void;
  /** handOff: the caller exits right after; the detach is left to a child process. */
  stop(handOff?: boolean): Promise<void>;
  addTarget(pid: number, startTicks: number, rootPid?: number): void;
  removeTarget(pid: number): void;
  hasTarget(pid: number): boolean;
  targets(): number[];
  drops(): number[];
  syscallCounts(): number[];
  programs(): NativeProgram[];
  hooks(): NativeHooks;
  /** Bytes in the ring buffer not yet read (0 once stopped). */
  ringBufferUsed(): number;
}

/** The syscall hooks a session ended up with. */
export interface NativeHooks {
  syscalls: 'lean' | 'exact';
  /**
   * Where the hooks are: 'trampoline' (fentry/fexit on the kernel functions that do the work, the
   * default where the kernel allows them), 'tracepoint' (one per syscall), or 'raw-syscalls'
   * (sys_enter/sys_exit, with exact hooks).
   */
  backend: 'trampoline' | 'tracepoint' | 'raw-syscalls';
  /** Why the backend is not the trampolines ("" when it is): "trampolines refused by this kernel: EPERM". */
  backendNote: string;
  /** Kernel functions the trampolines hook that this kernel lacks (what they would see is not seen). */
  unhooked: string[];
  /** Why it is not what was asked for (lean became exact without tracefs). */
  warnings: string[];
  /** Syscalls this kernel has no tracepoint for (not built in, so nothing can call them). */
  absent: string[];
  /** 'full', or 'legacy' on kernels without bpf_loop() and bpf_find_vma() (5.8 to 5.16). */
  object: 'full' | 'legacy';
  /** The kernel's release (uname -r). */
  kernel: string;
  /** Whether a 64-bit process can make 32-bit syscalls here (int 0x80). */
  ia32: boolean;
  /** Whether those 32-bit syscalls are hooked. */
  compat: boolean;
}

export interface NativeAddon {
  Session: new (options: NativeSessionOptions) => NativeSession;
  /** What the addon was built with: libbpf's version, and the static libraries' sources. */
  build: { libbpf: string; deps: string };
  /** A non-blocking AF_UNIX datagram socket (native/unix_dgram.h): the local syslog socket. */
  openUnixDatagram(): number;
  /** 0, or the errno the send failed with. */
  sendUnixDatagram(fd: number, path: string, data: Buffer): number;
  closeUnixDatagram(fd: number): void;
}

let addon: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  if (process.platform !== 'linux') {
    throw new Error(`wasmshark's eBPF probes need Linux; this is ${process.platform} (use --no-bpf on Linux only)`);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = load(PACKAGE_ROOT);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(
      `cannot load the wasmshark native addon for linux-${process.arch} (node ${process.versions.node}): ${reason}; ` +
        'build it with `npm run build:native` (needs g++, make and python3)',
    );
  }
  for (const object of [BPF_OBJECT_PATH, BPF_LEGACY_OBJECT_PATH]) {
    if (!fs.existsSync(object)) throw new Error(`the precompiled BPF object is missing at ${object}; reinstall wasmshark`);
  }
  return addon;
}
