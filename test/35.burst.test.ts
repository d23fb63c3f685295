/**
 * Loss accounting under a burst: every W+X mmap is either delivered or
 * counted as dropped, never silently lost.
 */
import type { KernelEvent } from '../src/events';
import { parkedInRead } from '../src/launch';
import { startProbes } from '../src/probes';
import { describeBpf, startWaiting } from './helpers/env';

const BURST = 200_000;

async function burst(ringBufferBytes?: number) {
  const probes = startProbes({ ringBufferBytes });
  const w = startWaiting(['wx', String(BURST)]);
  let delivered = 0;
  let other = 0;
  probes.on('batch', (events: KernelEvent[]) => {
    for (const e of events) {
      if (e.pid !== w.pid) continue;
      if (e.kind === 'mmap' && e.prot === 7 && e.fd === -1) delivered++;
      else if (e.kind === 'mmap') other++;
    }
  });
  await parkedInRead(w.pid, 5000);
  probes.addTarget(w.pid);
  expect(await w.go()).toBe(0);
  await probes.stop(); // drains what is still in the ring buffer
  const drops = probes.drops();
  return { delivered, drops, other, malformed: probes.malformed };
}

describeBpf('a burst of 200,000 W+X mmaps', () => {
  it('delivers every one or counts it as dropped (default ring buffer)', async () => {
    const { delivered, drops, other, malformed } = await burst();
    expect(other).toBe(0);
    expect(malformed).toBe(0);
    expect(drops.stash).toBe(0);
    expect(delivered + drops.byKind.mmap).toBe(BURST);
  });

  it('still accounts for every one when a 16 KiB ring buffer overflows', async () => {
    const { delivered, drops, malformed } = await burst(16 * 1024);
    expect(malformed).toBe(0);
    expect(drops.byKind.mmap).toBeGreaterThan(0);
    expect(delivered + drops.byKind.mmap).toBe(BURST);
    expect(drops.stash).toBe(0);
  });
});
