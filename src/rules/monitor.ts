/**
 * Attacks on the monitor itself. A target that causes events faster than the
 * monitor can take them makes the kernel drop some: whatever it did among
 * them is not judged. That is an act of the target, and it is scored as one.
 */
import type { Finding } from '../alerts';
import type { DropCounts } from '../probes';

/** One alert per run (the ring buffer is shared by every followed process); null while nothing is lost. */
export function blindedRules(drops: DropCounts, pid: number, firstMs: number, lastMs: number): Finding[] {
  if (drops.total <= 0) return [];
  const lost = Object.entries(drops.byKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind}=${n}`);
  if (drops.stash > 0) lost.push(`syscall-args=${drops.stash}`);
  if (drops.userspace > 0) lost.push(`userspace=${drops.userspace}`);
  return [
    {
      rule: 'monitor.blinded',
      key: 'events-dropped',
      level: 'HIGH',
      category: 'MONITOR',
      title: `Monitor blinded: ${drops.total} events dropped`,
      description: 'the followed processes caused events faster than the monitor could take them, and the kernel dropped some — a flood can hide an attack',
      evidence: `dropped=${drops.total} ${lost.join(' ')} first=${new Date(firstMs).toISOString()} last=${new Date(lastMs).toISOString()}`,
      pid,
    },
  ];
}
