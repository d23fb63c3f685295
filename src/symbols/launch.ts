/**
 * Launch mode turns the runtimes' JIT symbol maps on where that is cheap:
 * V8 writes /tmp/perf-PID.map with --perf-basic-prof (node through
 * NODE_OPTIONS, deno through DENO_V8_FLAGS: both reach every descendant of
 * the command that runs them), and --interpreted-frames-native-stack gives
 * JavaScript functions that have not been compiled yet frames of their own.
 * wasmtime's CLI takes --profile=perfmap.
 */
import * as path from 'path';

export const V8_MAP_FLAGS = ['--perf-basic-prof', '--interpreted-frames-native-stack'];

function appendFlags(current: string | undefined, flags: string[], separator: string): string {
  const have = (current ?? '').split(/[\s,]+/).filter(Boolean);
  const missing = flags.filter((f) => !have.includes(f));
  if (missing.length === 0) return current ?? '';
  return current && current.trim() ? `${current}${separator}${missing.join(separator)}` : missing.join(separator);
}

/** The command's arguments and environment with the JIT maps turned on. */
export function withJitMaps(command: string, args: string[], env: NodeJS.ProcessEnv): { args: string[]; env: NodeJS.ProcessEnv } {
  const out: NodeJS.ProcessEnv = {
    ...env,
    NODE_OPTIONS: appendFlags(env.NODE_OPTIONS, V8_MAP_FLAGS, ' '),
    DENO_V8_FLAGS: appendFlags(env.DENO_V8_FLAGS, V8_MAP_FLAGS, ','),
  };
  let outArgs = args;
  if (path.basename(command) === 'wasmtime' && !args.some((a) => a.startsWith('--profile'))) {
    // `wasmtime run [options] file` or `wasmtime [options] file`: the option goes before the file
    outArgs = args[0] === 'run' ? ['run', '--profile=perfmap', ...args.slice(1)] : ['--profile=perfmap', ...args];
  }
  return { args: outArgs, env: out };
}
