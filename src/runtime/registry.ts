/**
 * The WebAssembly runtimes wasmshark knows, as data: how each is recognised
 * (its executable, the library it is embedded as, the Go module that links
 * it, bytes only its binary carries), where its version is written, and how
 * its code generator treats memory. The rules take what a runtime may do from
 * here (src/rules/runtime.ts), identification its signatures
 * (src/runtime/identify.ts), and the README's table is printed from it
 * (scripts/runtime-table.js). Adding a runtime is an entry here and a test.
 */

/**
 * How the runtime's own code legitimately makes code memory:
 * - rwx-mprotect: V8 (Node, workerd, Deno) mprotects its code space to RWX (or RX);
 * - rwx-mmap: JavaScriptCore (Bun) maps one RWX region for its JIT;
 * - wx-strict: Cranelift/LLVM/wazero compilers write code, then flip it to R+X, never W+X;
 * - none: an interpreter that makes no code at run time;
 * - unknown: not modelled: nothing is expected of it.
 */
export type JitModel = 'rwx-mprotect' | 'rwx-mmap' | 'wx-strict' | 'none' | 'unknown';

/** A memory operation that makes code: a W+X mapping, a W+X mprotect, an mprotect to R+X. */
export type CodeOp = 'rwx-map' | 'rwx-protect' | 'rx-protect';

export interface RuntimeEntry {
  /** The name reports, the console and `--runtime` use. */
  name: string;
  /** The engine that compiles code ('' if none). */
  engine: string;
  jit: JitModel;
  /** Executable names (basenames) that are this runtime. */
  executables: readonly string[];
  /** Shared libraries (basenames) that embed it into another program. */
  libraries: readonly RegExp[];
  /** Go modules that link it into a Go program (read from the binary's build info). */
  goModules: readonly string[];
  /**
   * Where its version is written in its binary: a literal, then a pattern
   * applied to what follows it (first match wins).
   */
  version: ReadonlyArray<readonly [string, RegExp]>;
  /** What it does to make code, from its own code; anything else is judged as from any program. */
  expected: readonly CodeOp[];
  /** What it is expected to do, in words (the README's table). */
  expects: string;
  /** What it never does: seen from it, the alert says so. */
  never: string;
  /** What was tested here on real binaries, or null if it could not be. */
  tested: string | null;
}

const V8_NODE_VERSION = ['/download/release/v', /^(\d+\.\d+\.\d+)\//] as const;

/** Behaviour by JIT model (the entries share it; a runtime needing another gets a model of its own). */
const MODEL: Record<JitModel, { expected: readonly CodeOp[]; expects: string; never: string }> = {
  'rwx-mprotect': {
    expected: ['rwx-protect', 'rx-protect'],
    expects: 'mprotect of its code space to RWX or R-X, from its own binary',
    never: 'W+X mmap; any of it from other code',
  },
  'rwx-mmap': {
    expected: ['rwx-map'],
    expects: 'one RWX mmap for its JIT, from its own binary',
    never: 'W+X mprotect; any of it from other code',
  },
  'wx-strict': {
    expected: ['rx-protect'],
    expects: 'code mapped RW, then sealed R-X by mprotect, from its own code',
    never: 'W+X memory in any form',
  },
  none: { expected: [], expects: 'no code at run time (an interpreter)', never: 'making memory executable' },
  unknown: { expected: [], expects: 'not modelled: judged as any program', never: '—' },
};

function entry(
  e: Pick<RuntimeEntry, 'name' | 'engine' | 'jit'> & Partial<Pick<RuntimeEntry, 'executables' | 'libraries' | 'goModules' | 'version' | 'tested'>>,
): RuntimeEntry {
  return Object.freeze({
    executables: [],
    libraries: [],
    goModules: [],
    version: [],
    tested: null,
    ...MODEL[e.jit],
    ...e,
  });
}

export const RUNTIMES: readonly RuntimeEntry[] = Object.freeze([
  entry({
    name: 'node',
    engine: 'V8',
    jit: 'rwx-mprotect',
    executables: ['node', 'nodejs'],
    libraries: [/^libnode\.so/],
    version: [V8_NODE_VERSION],
    tested: 'node 20 (system package): benign WASM workloads, attached and launched; attacks through native addons',
  }),
  entry({
    name: 'deno',
    engine: 'V8',
    jit: 'rwx-mprotect',
    executables: ['deno'],
    // "Deno/2.9.6+<commit>" is unmistakable; a bundled exporter's "…-Deno/0.80.0" comes earlier in the binary
    version: [['Deno/', /^(\d+\.\d+\.\d+)\+[0-9a-f]{7,40}/]],
    tested: 'deno (npm @deno/linux-x64-glibc): WASM workloads; a host function starting a shell',
  }),
  entry({
    name: 'bun',
    engine: 'JavaScriptCore',
    jit: 'rwx-mmap',
    executables: ['bun'],
    version: [['Bun v', /^(\d+\.\d+\.\d+)/]],
    tested: 'bun (npm @oven/bun-linux-x64): WASM workloads, attached and launched',
  }),
  entry({
    name: 'workerd',
    engine: 'V8',
    jit: 'rwx-mprotect',
    executables: ['workerd'],
    tested: 'workerd (npm @cloudflare/workerd-linux-64): a WASM worker serving requests',
  }),
  entry({
    name: 'wasmtime',
    engine: 'Cranelift',
    jit: 'wx-strict',
    executables: ['wasmtime'],
    // the Python wheel ships it as _libwasmtime.so
    libraries: [/^_?libwasmtime\.so/],
    goModules: ['github.com/bytecodealliance/wasmtime-go'],
    // its panic message for unreachable states carries the version, in the CLI and the C API library alike
    version: [
      ['\nversion: ', /^(\d+\.\d+\.\d+)\n\nThis is a bug in Wasmtime/],
      ['wasmtime ', /^(\d+\.\d+\.\d+)/],
    ],
    tested: 'wasmtime 49.0.0 (pip wheel, C API library) in Python and in a C host: plugin host compiling modules, attached and launched; a host import starting a shell; W+X staged through ctypes',
  }),
  entry({
    name: 'wasmer',
    engine: 'Cranelift/LLVM/Singlepass',
    jit: 'wx-strict',
    executables: ['wasmer'],
    libraries: [/^libwasmer\.so/],
    goModules: ['github.com/wasmerio/wasmer-go'],
    version: [['wasmer ', /^(\d+\.\d+\.\d+)/]],
  }),
  entry({
    name: 'wasmedge',
    engine: 'WasmEdge',
    jit: 'wx-strict',
    executables: ['wasmedge'],
    libraries: [/^libwasmedge\.so/],
    goModules: ['github.com/second-state/WasmEdge-go'],
  }),
  entry({
    // its AOT loader's memory handling is not modelled: an RWX mapping from it is judged as from any program
    name: 'iwasm',
    engine: 'WAMR',
    jit: 'unknown',
    executables: ['iwasm'],
    libraries: [/^lib(iwasm|vmlib)\.so/],
  }),
  entry({
    name: 'wasm3',
    engine: '',
    jit: 'none',
    executables: ['wasm3'],
    libraries: [/^libm3\.so/],
  }),
  entry({
    name: 'wazero',
    engine: 'wazero',
    jit: 'wx-strict',
    goModules: ['github.com/tetratelabs/wazero'],
  }),
]);

export function runtimeEntry(name: string): RuntimeEntry | undefined {
  return RUNTIMES.find((r) => r.name === name);
}

/** The entry a shared library (by basename) embeds, if any. */
export function libraryEntry(basename: string): RuntimeEntry | undefined {
  return RUNTIMES.find((r) => r.libraries.some((re) => re.test(basename)));
}
