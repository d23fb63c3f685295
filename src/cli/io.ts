/** Where the CLI writes, and how it says it cannot go on. */
import { escapeText } from '../console';

export interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

/** One line on stderr; exit status 2 for usage (with a pointer to --help), else 1. */
export function fatal(io: Io, message: string, usage = false): number {
  io.err.write(`wasmshark: error: ${escapeText(message)}\n`);
  if (usage) io.err.write(`Try 'wasmshark --help' for usage.\n`);
  return usage ? 2 : 1;
}

/** Without root the probes cannot load: say so once and poll /proc. */
export function bpfForUser(io: Io, bpf: boolean | 'auto'): boolean | 'auto' {
  if (bpf === false || process.getuid?.() === 0) return bpf;
  io.err.write(`wasmshark: warning: eBPF probes need root (sudo env "PATH=$PATH" wasmshark ...); using /proc polling\n`);
  return false;
}
