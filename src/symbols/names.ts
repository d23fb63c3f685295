/**
 * What a JIT's symbol names say: V8 (--perf-basic-prof) names WASM functions
 * `NAME-INDEX-TIER`, the wrappers through which WASM calls an import
 * `wasm-to-js:SIG-IMPORT-INDEX-TIER`, and JavaScript `[~*^+]NAME FILE:LINE:COL`;
 * wasmtime names WASM functions `wasm[M]::function[N]::NAME`.
 */

export type FrameKind = 'wasm' | 'js' | 'native' | 'unknown';

export interface JitName {
  kind: FrameKind;
  /** The function's name ('' for an anonymous JavaScript function). */
  name: string;
  /** WASM: the function's index in its module (imports first, as the name section counts). */
  index?: number;
  /** WASM: the compiler tier (liftoff, turbofan); JS: interpreted, baseline, optimized. */
  tier?: string;
  /** A wrapper calling out of WASM into an import: the import's name (its module is not in V8's names). */
  import?: { name: string; index: number };
  file?: string;
  line?: number;
  column?: number;
}

const V8_WASM = /^(.*)-(\d{1,9})-(liftoff|turbofan|debug|maglev)$/;
const V8_WASM_TO_JS = /^wasm-to-js:[^-]*-(.*)-(\d{1,9})(?:-(?:liftoff|turbofan|debug))?$/;
const V8_JS = /^([~*^+]?)(\S*) (.+):(\d{1,9}):(\d{1,9})$/;
const V8_JS_TIER: Record<string, string> = { '~': 'interpreted', '^': 'baseline', '+': 'maglev', '*': 'optimized', '': 'compiled' };
const WASMTIME = /^wasm\[(\d{1,6})\]::function\[(\d{1,9})\](?:::(.*))?$/;

/** Classifies one JIT map name; names it does not know are 'native' code of the runtime (builtins, stubs). */
export function parseJitName(raw: string): JitName {
  const name = raw.startsWith('JS:') ? raw.slice(3) : raw;
  let m = V8_WASM_TO_JS.exec(name);
  if (m) return { kind: 'native', name: `wasm-to-js ${m[1]}`, import: { name: m[1], index: Number(m[2]) } };
  m = V8_JS.exec(name);
  if (m) return { kind: 'js', name: m[2], tier: V8_JS_TIER[m[1]], file: m[3], line: Number(m[4]), column: Number(m[5]) };
  m = WASMTIME.exec(name);
  if (m) return { kind: 'wasm', name: m[3] ?? `function[${m[2]}]`, index: Number(m[2]) };
  if (raw.startsWith('JS:')) {
    m = V8_WASM.exec(name);
    if (m && !name.includes(' ')) return { kind: 'wasm', name: m[1], index: Number(m[2]), tier: m[3] };
  }
  return { kind: 'native', name };
}
