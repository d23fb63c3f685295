/**
 * A JIT map is the target's own writing: garbage, hostile names, huge or
 * endless files, symlinks and FIFOs at its path. Parsing it never throws,
 * stays bounded, and what it names is text like any other the target chose
 * (escaped on the console, cut in the report). A stack copy is as hostile:
 * recovering frames from it never throws and stays bounded.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { MapsCache } from '../src/runtime/callsite';
import { parseJitName } from '../src/symbols/names';
import { recoverFrames, Symbolizer, usableFrames } from '../src/symbols/origin';
import { parsePerfMapLine, PerfMap } from '../src/symbols/perfmap';

const RUNS = { numRuns: 300 };
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-perfmap-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hexNum = (max: number) => fc.integer({ min: 0, max }).map((n) => n.toString(16));
/** Lines as V8 writes them, lines that almost parse, and junk. */
const line = fc.oneof(
  fc.tuple(hexNum(0x7fffffffffff), hexNum(0xffff), fc.constantFrom('JS:tick-1-turbofan', 'JS:*hostRun /app/host.js:2:17', 'JS:wasm-to-js::-run-0-turbofan', 'Builtin:X')).map(([a, s, n]) => `${a} ${s} ${n}`),
  fc.tuple(hexNum(0xffffffff), hexNum(0xffff), fc.string({ maxLength: 80 })).map(([a, s, n]) => `${a} ${s} ${n}`),
  fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 200 })).map(([a, s, n]) => `${a} ${s} ${n}`),
  fc.constantFrom('ffffffffffffffff 1 JS:big-1-liftoff', '0 0 JS:zero-0-liftoff', '10 ffffffff JS:wide-2-turbofan', `1 1 ${'x'.repeat(5000)}`, '1 1 \u001b[31mred', '\r\n', ''),
);

describe('perf map parsing on hostile input', () => {
  it('parsePerfMapLine never throws; what it accepts is a sane range and a name without control characters', () => {
    fc.assert(
      fc.property(fc.oneof(line, fc.string({ unit: 'binary', maxLength: 300 })), (l) => {
        const e = parsePerfMapLine(l);
        if (e === null) return;
        expect(Number.isSafeInteger(e.start) && e.size > 0 && e.start + e.size <= Number.MAX_SAFE_INTEGER).toBe(true);
        expect(e.name).not.toMatch(/[\x00-\x1f\x7f]/);
        expect(e.name.length).toBeLessThanOrEqual(1024);
      }),
      { numRuns: 1000 },
    );
  });

  it('a file of arbitrary bytes and lines, read in pieces as it grows: never throws, stays within its limits', () => {
    const limits = { bytes: 64 << 10, entries: 200, line: 256 };
    fc.assert(
      fc.property(fc.array(fc.oneof(line.map((l) => Buffer.from(`${l}\n`, 'utf8')), fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b))), { maxLength: 40 }), fc.array(fc.nat(0x7fffffff), { maxLength: 20 }), (chunks, probes) => {
        const file = path.join(dir, 'perf-fuzz.map');
        fs.writeFileSync(file, '');
        const map = new PerfMap(file, limits);
        for (const c of chunks) {
          fs.appendFileSync(file, c);
          map.refresh();
        }
        expect(map.size).toBeLessThanOrEqual(limits.entries);
        for (const a of probes) {
          const name = map.lookup(a);
          if (name !== null) expect(typeof name).toBe('string');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('reads what was appended, joining a line written in two pieces; the latest entry for an address wins', () => {
    const file = path.join(dir, 'perf-grow.map');
    fs.writeFileSync(file, '1000 100 JS:old-1-liftoff\n2000 10');
    const map = new PerfMap(file);
    map.refresh();
    expect(map.lookup(0x1050)).toBe('JS:old-1-liftoff');
    expect(map.lookup(0x2005)).toBeNull();
    fs.appendFileSync(file, '0 JS:tick-1-turbofan\n1000 100 JS:new-2-turbofan\n');
    map.refresh();
    expect(map.lookup(0x2005)).toBe('JS:tick-1-turbofan');
    expect(map.lookup(0x1050)).toBe('JS:new-2-turbofan');
  });

  it('stops at its byte and entry limits; a symlink or a FIFO at the path is not read', () => {
    const big = path.join(dir, 'perf-big.map');
    fs.writeFileSync(big, Array.from({ length: 5000 }, (_, i) => `${(0x1000 + i * 16).toString(16)} 10 JS:f${i}-${i}-liftoff`).join('\n'));
    const capped = new PerfMap(big, { bytes: 1 << 20, entries: 100, line: 256 });
    capped.refresh();
    expect(capped.size).toBe(100);
    expect(capped.capped).toBe(true);
    const fewBytes = new PerfMap(big, { bytes: 4096, entries: 1 << 20, line: 256 });
    fewBytes.refresh();
    expect(fewBytes.capped).toBe(true);
    expect(fewBytes.size).toBeLessThan(200);

    const link = path.join(dir, 'perf-link.map');
    fs.symlinkSync(big, link);
    const viaLink = new PerfMap(link);
    viaLink.refresh();
    expect(viaLink.found).toBe(false);
    expect(viaLink.size).toBe(0);

    const fifo = path.join(dir, 'perf-fifo.map');
    require('child_process').execFileSync('mkfifo', [fifo]);
    const viaFifo = new PerfMap(fifo);
    viaFifo.refresh(); // would block forever if it were read
    expect(viaFifo.found).toBe(false);
  });

  it('parseJitName never throws and always says what kind of frame it is', () => {
    fc.assert(
      fc.property(fc.oneof(line, fc.string({ unit: 'binary', maxLength: 200 })), (l) => {
        const n = parseJitName(l);
        expect(['wasm', 'js', 'native', 'unknown']).toContain(n.kind);
      }),
      { numRuns: 1000 },
    );
    expect(parseJitName('JS:tick-1-turbofan')).toMatchObject({ kind: 'wasm', name: 'tick', index: 1, tier: 'turbofan' });
    expect(parseJitName('JS:wasm-to-js::-run-0-turbofan')).toMatchObject({ import: { name: 'run', index: 0 } });
    expect(parseJitName('JS:*hostRun /app/host.js:2:17')).toMatchObject({ kind: 'js', name: 'hostRun', file: '/app/host.js', line: 2, column: 17, tier: 'optimized' });
    expect(parseJitName('wasm[0]::function[3]::mine')).toMatchObject({ kind: 'wasm', name: 'mine', index: 3 });
  });
});

describe('stacks on hostile input', () => {
  const word = fc.oneof(fc.nat(0x7fffffffffff), fc.constantFrom(0, 0x7fffffffffff + 1, Number.MAX_SAFE_INTEGER, 0x1000, 0x2000, 0x2008));
  it('usableFrames and recoverFrames never throw and stay bounded', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 64 }), fc.nat(0x7fffffff), fc.array(word, { maxLength: 1024 }), (frames, sp, words) => {
        const usable = usableFrames(frames);
        expect(usable.length).toBeLessThanOrEqual(frames.length);
        const rec = recoverFrames({ sp: sp * 8, words }, (a) => a % 3 === 0);
        expect(rec.length).toBeLessThanOrEqual(48);
        for (const a of rec) expect(a >= 0x1000 && a <= 0x7fffffffffff).toBe(true);
      }),
      RUNS,
    );
  });

  it('recovers a frame-pointer chain from a stack copy, past words that only look like code', () => {
    const sp = 0x7ffd0000;
    const words = new Array(64).fill(0);
    words[3] = 0x5000; // a stale return address into JIT code with no frame link below it
    words[9] = sp + 20 * 8; // saved frame pointer
    words[10] = 0x5010; // return address into JIT code
    words[20] = sp + 30 * 8;
    words[21] = 0x6000;
    words[30] = 0; // the chain's end
    words[31] = 0x6100;
    expect(recoverFrames({ sp, words }, (a) => a >= 0x5000 && a < 0x7000)).toEqual([0x5010, 0x6000, 0x6100]);
  });

  it('naming a stack from a garbage map of a live process never throws', () => {
    const pid = process.pid;
    const file = `/tmp/perf-${pid}.map`;
    const existed = fs.existsSync(file);
    if (existed) return; // never touch a map this process did not write
    try {
      fs.writeFileSync(file, `0 7fffffffffff JS:\u202eevil-1-turbofan\n${'z'.repeat(3000)}\n1000 10 JS:*\u001b[2J /x:1:1\n`);
      const s = new Symbolizer(new MapsCache());
      fc.assert(
        fc.property(fc.array(word, { maxLength: 40 }), (frames) => {
          const o = s.resolve(pid, { frames, error: 0 }, 'node');
          expect(o.frames.length).toBeLessThanOrEqual(frames.length);
          expect(typeof o.summary).toBe('string');
        }),
        { numRuns: 100 },
      );
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
