/**
 * Loss accounting under a burst: every W+X mmap is either delivered or
 * counted as dropped, never silently lost.
 */
import { spawnSync } from 'child_process';
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

  it('says how full the ring buffer is: what waits while the reader is held up, nothing once it has caught up', async () => {
    const probes = startProbes({ ringBufferBytes: 1 << 20 });
    try {
      expect(probes.ringBufferUsedBytes()).toBe(0);
      const w = startWaiting(['wx', String(BURST)]);
      await parkedInRead(w.pid, 5000);
      probes.addTarget(w.pid);
      w.child.stdin!.end('go\n');
      // hold the JS thread until the burst is over: the reader's queue of batches fills, then the ring buffer
      // (it stays a zombie until the event loop reaps it: wait for that state, or for it to be gone)
      const exited = spawnSync('sh', ['-c', `while [ -e /proc/${w.pid} ] && [ "$(cut -d' ' -f3 /proc/${w.pid}/stat 2>/dev/null)" != Z ]; do sleep 0.05; done`]);
      expect(exited.status).toBe(0);
      const held = probes.ringBufferUsedBytes();
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(1 << 20);
      expect(await w.exited).toBe(0);
      // the reader catches up once the JS thread is free
      let used = held;
      for (let i = 0; i < 400 && used > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        used = probes.ringBufferUsedBytes();
      }
      expect(used).toBe(0);
    } finally {
      await probes.stop();
    }
    expect(probes.ringBufferUsedBytes()).toBe(0);
  });
});
