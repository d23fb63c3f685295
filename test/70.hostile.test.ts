/**
 * Hostile input: everything a monitored process can shape (its name, paths,
 * argv, environment, file names, the bytes of its records) thrown at the
 * decoder, the /proc parsers, the rules, the console and the report, as
 * fast-check properties. Nothing may throw, nothing may be attributed to the
 * wrong record or field, no control character or bidi override may reach the
 * terminal, and every report string must be valid JSON text and valid Unicode.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import type { Alert } from '../src/alerts';
import { Assessment } from '../src/assessment';
import { ConsoleRenderer, escapeText } from '../src/console';
import type { KernelEvent, ProcEvent, RuntimeEvent } from '../src/events';
import { assessCoverage } from '../src/coverage';
import type { MonitorInfo } from '../src/monitor';
import { readFdTargets, socketInodes } from '../src/proc/fds';
import { MAX_ENV_NAME_BYTES, MAX_ENV_NAMES, parseEnvironNames, parseMaps, parseNetTable, parseSyscall } from '../src/proc/parse';
import { parseStat } from '../src/proc/stat';
import { MAX_STRING, reportAlert, reportJson, reportScoreBreakdown, truncate, writeReport, type Report } from '../src/report';
import { DEFAULT_RULES, RuleSet } from '../src/rules';
import { scoreBreakdown } from '../src/score';
import type { RuleContext } from '../src/rules';
import { formatIPv6 } from '../src/net/address';
import { decodeBatch } from '../src/sources/bpf/decode';
import * as L from '../src/sources/bpf/layout';
import { ProcSource } from '../src/sources/proc/source';
import { describeBpf, ROOT, trigger, withoutSudo } from './helpers/env';

/** Enough runs to find the edge cases below, few enough to keep the file fast. */
const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------
// What must never reach a terminal or a report

/** C0 (but the renderer's own newline), DEL, C1, and every bidirectional control. */
const TERMINAL_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** In JSON text: a \u escape of a lone surrogate is as bad as the raw unit (strict readers reject both). */
const LONE_SURROGATE_ESCAPE = /\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

function wellFormed(s: string): string {
  return s.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\ufffd');
}

/** Every string inside a value, depth first. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

// ---------------------------------------------------------------------------
// Arbitraries

/** Pieces a hostile process would use: escapes, OSC titles, C1 CSI, bidi, lone surrogates, comm-shaped parens. */
const NASTY = [
  '\x1b[2J', '\x1b]0;pwned\x07', '\x9b31m', '\u202e', '\u2066', '\u200f', '\u061c', '\r', '\n', '\t', '\x7f', '\0',
  '\ud800', '\udfff', '😀', ') ', ')', '(', ' R 1 ', '\u2028', '\\x1b', '…', '=', 'socket:[42]', ' (deleted)',
];
const nasty = fc.constantFrom(...NASTY);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u));
const hostile = (maxLength = 24) =>
  fc.array(fc.oneof(nasty, loneSurrogate, fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 6 })), { maxLength }).map((p) => p.join(''));
/** Around and beyond the report's and the console's limits, with a surrogate pair wherever the cut may fall. */
const longHostile = fc
  .tuple(fc.integer({ min: 0, max: MAX_STRING + 200 }), hostile(6), fc.constantFrom('😀', 'x', '\u202e', '\ud800'))
  .map(([n, s, tail]) => `${'a'.repeat(n)}${s}${tail.repeat(3)}`);
const anyText = fc.oneof({ weight: 4, arbitrary: hostile() }, { weight: 1, arbitrary: longHostile });

/** Bytes a process can put in a comm, path or argv: control bytes, UTF-8 of bidi/C1, broken and CESU sequences. */
const NASTY_BYTES = [[0x1b, 0x5b, 0x32, 0x4a], [0xe2, 0x80, 0xae], [0xc2, 0x9b], [0xed, 0xa0, 0x80], [0xff], [0xc3], [0xf0, 0x9f, 0x98, 0x80], [0x29, 0x20], [0x0a], [0x00]];
const hostileBytes = (maxLength: number) =>
  fc
    .array(fc.oneof(fc.constantFrom(...NASTY_BYTES), fc.uint8Array({ maxLength: 8 }).map((a) => [...a])), { maxLength })
    .map((parts) => Buffer.from(parts.flat()));

// ---------------------------------------------------------------------------
// Ring buffer records

const RECORD_KINDS: Array<[type: number, size: number, kind: KernelEvent['kind']]> = [
  [L.EV.MMAP, L.MEM.size, 'mmap'],
  [L.EV.MPROTECT, L.MEM.size, 'mprotect'],
  [L.EV.PKEY_MPROTECT, L.MEM.size, 'mprotect'],
  [L.EV.EXEC, L.EXEC.size, 'exec'],
  [L.EV.CONNECT, L.CONNECT.size, 'connect'],
  [L.EV.MEMFD, L.MEMFD.size, 'memfd'],
  [L.EV.FORK, L.FORK.size, 'fork'],
  [L.EV.EXIT, L.EXIT.size, 'exit'],
  [L.EV.ANON_SYSCALL, L.ANON_SYSCALL.size, 'anon-syscall'],
  [L.EV.SYSCALL, L.SYSCALL.size, 'syscall'],
  [L.EV.OPEN, L.OPEN.size, 'open'],
  [L.EV.PATH, L.PATH.size, 'path'],
  [L.EV.STACK, L.STACK.size, 'stack'],
  [L.EV.STACK, L.STACK_SCAN.size, 'stack'],
  // memory events on a file's memory carry the file: a second size for the same types
  [L.EV.MMAP, L.MEM_FILE.size, 'mmap'],
  [L.EV.MPROTECT, L.MEM_FILE.size, 'mprotect'],
];
const VALID_SIZES = new Set(RECORD_KINDS.map(([, size]) => size));

/** Frames records the way the addon does: [u32 size][u32 0][record][pad to 8]. */
function frame(records: Buffer[]): Buffer {
  return Buffer.concat(
    records.map((r) => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(r.length, 0);
      return Buffer.concat([head, r, Buffer.alloc(((r.length + 7) & ~7) - r.length)]);
    }),
  );
}

/**
 * A well-formed record of a random kind whose every other byte is arbitrary:
 * the kernel copies the strings in as the process left them, and the numbers
 * are whatever the syscall was given. Hostile byte runs are written over
 * random places, and some NULs, so strings end everywhere.
 */
const wellFormedRecord = fc
  .tuple(
    fc.constantFrom(...RECORD_KINDS),
    fc.uint8Array({ minLength: L.EXEC.size, maxLength: L.EXEC.size }),
    fc.array(fc.tuple(fc.nat(L.EXEC.size), hostileBytes(4)), { maxLength: 12 }),
    fc.array(fc.nat(L.EXEC.size), { maxLength: 24 }),
  )
  .map(([[type, size], bytes, splices, nuls]) => {
    const b = Buffer.alloc(size); // a copy: generated values are not ours to change
    Buffer.from(bytes.subarray(0, size)).copy(b);
    for (const [at, s] of splices) s.copy(b, at % size);
    for (const at of nuls) b[at % size] = 0;
    b.writeUInt16LE(type, L.HDR.type);
    b.writeUInt16LE(size, L.HDR.recSize);
    return b;
  });

/** A record the decoder must skip: unknown type, or a size that disagrees with its type. */
const garbageRecord = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 700 }), fc.integer({ min: L.EV_TYPE_MAX, max: 0xffff })).map(([size, type]) => {
    const b = Buffer.alloc(size, 0x41);
    if (size >= 2) b.writeUInt16LE(type, 0);
    return b;
  }),
  fc.tuple(fc.constantFrom(...RECORD_KINDS), fc.integer({ min: 0, max: 1700 })).filter(([[, size], n]) => n !== size).map(([[type, size], n]) => {
    const b = Buffer.alloc(n, 0x42);
    if (n >= 4) {
      b.writeUInt16LE(type, 0);
      b.writeUInt16LE(size, 2); // claims the right size in the header: the frame says otherwise
    }
    return b;
  }),
  fc.constantFrom(...RECORD_KINDS).map(([type, size]) => {
    const b = Buffer.alloc(size, 0x43);
    b.writeUInt16LE(type, 0);
    b.writeUInt16LE(size ^ 8, 2); // the frame is right, the record's own size field is not
    return b;
  }),
);

/** The header fields as Buffer reads them: an independent decoding to compare against. */
function headerOf(rec: Buffer) {
  const commField = rec.subarray(L.HDR.comm, L.HDR.comm + L.COMM_LEN);
  const nul = commField.indexOf(0);
  return {
    kind: RECORD_KINDS.find(([type]) => type === rec.readUInt16LE(L.HDR.type))![2],
    pid: rec.readUInt32LE(L.HDR.tgid),
    tid: rec.readUInt32LE(L.HDR.tid),
    ppid: rec.readUInt32LE(L.HDR.ppid),
    uid: rec.readUInt32LE(L.HDR.uid),
    timeNs: rec.readBigUInt64LE(L.HDR.ts),
    comm: commField.subarray(0, nul < 0 ? L.COMM_LEN : nul).toString('utf8'),
  };
}

describe('ring buffer decoder on hostile bytes', () => {
  it('fuzzes every record type there is', () => {
    expect([...new Set(RECORD_KINDS.map(([type]) => type))].sort((a, b) => a - b)).toEqual(Object.values(L.EV).sort((a, b) => a - b));
  });

  it('never throws on arbitrary bytes, and what it returns is well-formed text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const { events, malformed } = decodeBatch(Buffer.from(bytes));
        expect(Number.isInteger(malformed) && malformed >= 0).toBe(true);
        for (const s of strings(events)) expect(s).not.toMatch(LONE_SURROGATE);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes framed with valid record sizes', () => {
    const framed = fc.array(fc.tuple(fc.constantFrom(...VALID_SIZES), fc.uint8Array({ maxLength: L.EXEC.size })), { maxLength: 6 }).map((rs) =>
      frame(rs.map(([size, bytes]) => {
        const b = Buffer.alloc(size);
        Buffer.from(bytes).copy(b);
        return b;
      })),
    );
    fc.assert(
      fc.property(framed, fc.nat(), (batch, cut) => {
        expect(() => decodeBatch(batch.subarray(0, batch.length ? cut % (batch.length + 1) : 0))).not.toThrow();
      }),
      RUNS,
    );
  });

  it('attributes every field to its own record: pid, tid, comm and all come from the right one, whatever surrounds it', () => {
    const batchArb = fc.array(fc.oneof({ weight: 3, arbitrary: wellFormedRecord.map((r) => ({ good: true, r })) }, { weight: 1, arbitrary: garbageRecord.map((r) => ({ good: false, r })) }), {
      minLength: 1,
      maxLength: 8,
    });
    fc.assert(
      fc.property(batchArb, (items) => {
        const { events, malformed } = decodeBatch(frame(items.map((i) => i.r)));
        const good = items.filter((i) => i.good).map((i) => i.r);
        expect(malformed).toBe(items.length - good.length);
        expect(events).toHaveLength(good.length);
        good.forEach((rec, i) => {
          expect(events[i]).toMatchObject(headerOf(rec));
          // decoding a record alone gives the same event: nothing is read from its neighbours
          expect(decodeBatch(frame([rec])).events[0]).toEqual(events[i]);
        });
        for (const s of strings(events)) expect(s).not.toMatch(LONE_SURROGATE);
      }),
      RUNS,
    );
  });

  it('keeps exec arguments inside their record, whatever argc and the argument length claim', () => {
    const marker = Buffer.alloc(L.FORK.size, 0x5a); // 'Z' everywhere: it must never show up in the exec event
    marker.writeUInt16LE(L.EV.FORK, L.HDR.type);
    marker.writeUInt16LE(L.FORK.size, L.HDR.recSize);
    const noZ = wellFormedRecord.filter((r) => r.readUInt16LE(0) === L.EV.EXEC).map((r0) => {
      const r = Buffer.from(r0);
      for (let i = L.HDR.size; i < r.length; i++) if (r[i] === 0x5a) r[i] = 0x59;
      r.fill(0x59, L.HDR.comm, L.HDR.comm + L.COMM_LEN);
      return r;
    });
    const execRecord = fc.tuple(noZ, fc.boolean(), fc.nat(), fc.nat()).map(([r0, raw, argsLen, argc]) => {
      const r = Buffer.from(r0);
      r.writeUInt32LE(raw ? L.EXEC_ARGS_RAW : 0, L.EXEC.flags);
      r.writeUInt32LE(argsLen % 4096, L.EXEC.argsLen);
      r.writeUInt32LE(argc % 64, L.EXEC.argc);
      return r;
    });
    fc.assert(
      fc.property(execRecord, (rec) => {
        const [e] = decodeBatch(frame([rec, marker])).events;
        expect(e.kind).toBe('exec');
        if (e.kind !== 'exec') return;
        expect(e.argv.length).toBeLessThanOrEqual(L.MAX_ARGS);
        for (const a of e.argv) expect(Buffer.byteLength(a)).toBeLessThanOrEqual(3 * (L.ARG_LEN - 1));
        for (const s of strings(e)) expect(s).not.toContain('Z');
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------
// /proc parsers

describe('/proc parsers on hostile text', () => {
  it('parseStat: a comm with ") ", parentheses, newlines or digits never shifts a field', () => {
    const comm = fc.oneof(hostile(8), fc.constantFrom('a) R 1 2 3', ') Z 99 ', 'x (y) z', '((()', '\n1 (a) S 2\n', ''));
    const state = fc.constantFrom('R', 'S', 'D', 'Z', 'T', 't', 'X', 'I');
    const n = fc.integer({ min: 0, max: 2 ** 31 - 1 });
    fc.assert(
      fc.property(n, comm, state, n, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.array(n, { minLength: 30, maxLength: 30 }), (pid, c, st, ppid, start, filler) => {
        // fields 1..52 as the kernel prints them; field 22 is the start time
        const fields = [String(pid), `(${c})`, st, String(ppid), ...filler.slice(0, 17).map(String), String(start), ...filler.slice(17).map(String)];
        expect(parseStat(`${fields.join(' ')}\n`)).toEqual({ pid, comm: c, state: st, ppid, startTicks: start });
      }),
      { numRuns: 500 },
    );
  });

  it('parseStat never throws on junk', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const s = parseStat(text);
        if (s) for (const k of ['pid', 'ppid', 'startTicks'] as const) expect(Number.isSafeInteger(s[k])).toBe(true);
      }),
      RUNS,
    );
  });

  it('parseEnvironNames: names only, each from its own entry, cut at 256 bytes, capped, never a value', () => {
    const nameBytes = hostileBytes(6).map((b) => Buffer.from([...b].filter((x) => x !== 0 && x !== 0x3d))).filter((b) => b.length > 0);
    const entry = fc.tuple(fc.oneof(nameBytes, fc.integer({ min: 250, max: 300 }).map((k) => Buffer.alloc(k, 0x4e))), hostileBytes(6).map((b) => Buffer.from([...b].filter((x) => x !== 0))));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), fc.boolean(), (entries, trailingNul) => {
        const parts = entries.map(([k, v]) => Buffer.concat([k, Buffer.from('='), v]));
        const buf = Buffer.concat(parts.flatMap((p, i) => (i < parts.length - 1 || trailingNul ? [p, Buffer.alloc(1)] : [p])));
        const names = parseEnvironNames(buf);
        expect(names).toEqual(entries.map(([k]) => k.subarray(0, MAX_ENV_NAME_BYTES).toString('utf8')));
        for (const s of names) expect(s).not.toMatch(LONE_SURROGATE);
      }),
      { numRuns: 500 },
    );
    expect(parseEnvironNames(Buffer.from('A=1\0'.repeat(MAX_ENV_NAMES + 10)))).toHaveLength(MAX_ENV_NAMES);
  });

  it('parseEnvironNames never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        for (const s of parseEnvironNames(Buffer.from(bytes))) {
          expect(s).not.toContain('=');
          expect(s).not.toContain('\0');
        }
      }),
      RUNS,
    );
  });

  it('parseNetTable: each entry from its own line, whatever lines of junk surround it', () => {
    const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
    const word = fc.integer({ min: 0, max: 0xffffffff });
    type NetRow = { local: number[]; remote: number[]; lport: number; rport: number; state: number; uid: number; inode: number };
    const entry: fc.Arbitrary<NetRow> = fc.record({
      local: fc.array(word, { minLength: 4, maxLength: 4 }),
      remote: fc.array(word, { minLength: 4, maxLength: 4 }),
      lport: fc.integer({ min: 0, max: 0xffff }),
      rport: fc.integer({ min: 0, max: 0xffff }),
      state: fc.integer({ min: 1, max: 0xff }),
      uid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      inode: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    const line = (e: NetRow, v6: boolean, slot: number) => {
      const addr = (w: number[]) => (v6 ? w : w.slice(0, 1)).map((x) => hex(x, 8)).join('');
      return `${String(slot).padStart(4)}: ${addr(e.local)}:${hex(e.lport, 4)} ${addr(e.remote)}:${hex(e.rport, 4)} ${hex(e.state, 2)} 00000000:00000000 00:00000000 00000000 ${String(e.uid).padStart(5)}        0 ${e.inode} 1 0000000000000000 20 4 30 10 -1`;
    };
    /** Network-order bytes of the words the kernel printed in host order. */
    const bytes = (w: number[]) => {
      const b = Buffer.alloc(w.length * 4);
      w.forEach((x, i) => (os.endianness() === 'LE' ? b.writeUInt32LE(x, i * 4) : b.writeUInt32BE(x, i * 4)));
      return b;
    };
    const junkLine = hostile(12).map((s) => s.replace(/\n/g, ' '));
    fc.assert(
      fc.property(fc.array(fc.tuple(entry, junkLine)), fc.boolean(), fc.constantFrom('tcp', 'udp') as fc.Arbitrary<'tcp' | 'udp'>, (rows, v6, protocol) => {
        const text = ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode', ...rows.flatMap(([e, junk], i) => [line(e, v6, i), junk])].join('\n');
        const parsed = parseNetTable(text, protocol, v6 ? 'inet6' : 'inet');
        expect(parsed).toHaveLength(rows.length);
        rows.forEach(([e], i) => {
          const p = parsed[i];
          expect(p).toMatchObject({ localPort: e.lport, remotePort: e.rport, uid: e.uid, inode: e.inode });
          if (!v6) {
            expect(p.localAddress).toBe([...bytes(e.local.slice(0, 1))].join('.'));
            expect(p.remoteAddress).toBe([...bytes(e.remote.slice(0, 1))].join('.'));
          } else {
            expect(p.localAddress).toBe(formatIPv6(bytes(e.local), 0));
            expect(p.remoteAddress).toBe(formatIPv6(bytes(e.remote), 0));
          }
        });
      }),
      RUNS,
    );
  });

  it('parseNetTable never throws on junk', () => {
    fc.assert(
      fc.property(anyText, fc.boolean(), (text, v6) => {
        expect(Array.isArray(parseNetTable(text, 'tcp', v6 ? 'inet6' : 'inet'))).toBe(true);
      }),
      RUNS,
    );
  });

  it('parseMaps: a path with any character the kernel does not escape (all but newline) keeps its line and its own fields', () => {
    const pathArb = hostile(10).map((s) => `/${s.replace(/\n/g, '')}`);
    const row = fc.record({
      start: fc.integer({ min: 0, max: 2 ** 47 - 4096 }),
      size: fc.integer({ min: 1, max: 2 ** 20 }),
      perms: fc.constantFrom('rwxp', 'r-xp', 'rw-p', '---p', 'r--s', 'rwxs'),
      offset: fc.integer({ min: 0, max: 2 ** 32 }),
      inode: fc.integer({ min: 0, max: 2 ** 40 }),
      path: fc.oneof(pathArb, fc.constant(''), fc.constantFrom('[heap]', '[stack]', '[vdso]', '[anon:v8\r]')),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 12 }), (rows) => {
        const text = rows
          .map((r) => {
            const head = `${r.start.toString(16)}-${(r.start + r.size).toString(16)} ${r.perms} ${r.offset.toString(16).padStart(8, '0')} fd:01 ${r.inode}`;
            // the kernel pads the path to a column, then always writes one space
            return r.path ? `${head.padEnd(72)} ${r.path}` : `${head} `;
          })
          .join('\n');
        expect(parseMaps(text)).toEqual(rows.map((r) => ({ start: r.start, end: r.start + r.size, perms: r.perms, offset: r.offset, inode: r.inode, path: r.path })));
      }),
      RUNS,
    );
  });

  it('parseMaps never throws on junk', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        for (const m of parseMaps(text)) expect(m.end).toBeGreaterThanOrEqual(0);
      }),
      RUNS,
    );
  });

  it('parseSyscall: the number, running, or null; never throws', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999999 }), hostile(4), (nr, rest) => {
        expect(parseSyscall(`${nr} ${rest}`)).toEqual({ nr });
      }),
      RUNS,
    );
    fc.assert(
      fc.property(anyText, (text) => {
        const r = parseSyscall(text);
        expect(r === null || r === 'running' || (Number.isInteger(r.nr) && r.nr >= 0)).toBe(true);
      }),
      RUNS,
    );
    expect(parseSyscall('-1 0x7ffc 0x0\n')).toBeNull();
    expect(parseSyscall('running\n')).toBe('running');
  });

  it('socketInodes: only an fd that is a socket counts, never a file named like one', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(anyText, fc.nat().map((n) => `socket:[${n}]`), fc.nat().map((n) => `/tmp/socket:[${n}]`))), (targets) => {
        const expected = targets.filter((t) => /^socket:\[\d{1,15}\]$/.test(t)).map((t) => Number(t.slice(8, -1)));
        expect([...socketInodes(targets.map((target, fd) => ({ fd, target })))].sort()).toEqual([...new Set(expected)].sort());
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------
// Real processes with hostile names (no root needed: our own children)

describe('hostile names on real processes', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-hostile-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const NAMES = ['esc\x1b[2J\x1b]0;pwned\x07', 'new\nline', 'bidi\u202eexe.txt', 'c1\u009b31m', 'socket:[4242]', 'x (deleted)', 'cr\rlf', 'ls\u2028ep'];

  it('open files keep their exact paths, fake sockets are not sockets, and the console shows them escaped', async () => {
    const files = NAMES.map((n) => path.join(dir, n));
    for (const f of files) fs.writeFileSync(f, 'x');
    // fds 3.. of a shell that holds them all open and waits (bash: dash has no fd above 9)
    const redirs = files.map((_, i) => `${i + 3}<"$${i + 1}"`).join(' ');
    // stderr is ignored too: inherited, it points wherever the test runner's output goes (a file in /tmp, say)
    const holder = spawn('bash', ['-c', `exec ${redirs}; read line`, 'bash', ...files], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const pid = holder.pid!;
      let targets = readFdTargets(pid);
      for (let i = 0; i < 200 && targets.length < files.length + 3; i++) {
        await new Promise((r) => setTimeout(r, 10));
        targets = readFdTargets(pid);
      }
      const byFd = new Map(targets.map((t) => [t.fd, t.target]));
      files.forEach((f, i) => expect(byFd.get(i + 3)).toBe(f));
      expect(socketInodes(targets).has(4242)).toBe(false);

      const events: ProcEvent[] = [];
      const errors: Error[] = [];
      const source = new ProcSource(pid, { followChildren: false });
      source.on('event', (e) => events.push(e));
      source.on('error', (e) => errors.push(e));
      source.scanNow();
      source.stop();
      expect(errors).toEqual([]);
      const seen = events.filter((e): e is Extract<ProcEvent, { kind: 'file' }> => e.kind === 'file').map((e) => e.path);
      expect(seen.sort()).toEqual([...files].sort());
      for (const f of seen) {
        expect(escapeText(f)).not.toMatch(TERMINAL_UNSAFE);
        expect(escapeText(f, 1000).split('\n')).toHaveLength(1);
      }
    } finally {
      holder.kill();
    }
  });

  it('mappings of a file whose name holds a carriage return or a line separator are still parsed', async () => {
    for (const name of ['sl\reep', 'sl\u2028eep', 'sl\u2029eep', 'sl\u009beep']) {
      const exe = path.join(dir, name);
      fs.copyFileSync(trigger(), exe);
      fs.chmodSync(exe, 0o755);
      const child = spawn(exe, ['--wait', 'sleep', '1'], { stdio: ['pipe', 'ignore', 'inherit'] });
      try {
        let maps = '';
        for (let i = 0; i < 200 && !maps.includes(dir); i++) {
          await new Promise((r) => setTimeout(r, 10));
          maps = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
        }
        const rawLines = maps.split('\n').filter((l) => l.endsWith(exe));
        expect(rawLines.length).toBeGreaterThan(0);
        const parsed = parseMaps(maps).filter((m) => m.path === exe);
        expect(parsed).toHaveLength(rawLines.length);
        expect(parsed.some((m) => m.perms[2] === 'x')).toBe(true);
      } finally {
        child.stdin!.end('go\n');
        await new Promise((r) => child.once('exit', r));
      }
    }
  });
});

// ---------------------------------------------------------------------------
// Rules, console and report: the strings that reach the analyst

const ctx: RuleContext = {
  procChildren: true,
  isLaunchExec: () => false,
  memfdName: () => '\x1b[31mred\u202e',
  runtime: () => null,
  callSite: (_pid, ip) => ({ kind: 'anonymous', path: '', address: ip }),
  kernelSawRegion: () => false,
  mappedElf: () => true,
  commandLine: () => ['\x1b]0;owned\x07', '\u202egnp.exe'],
};

/** /proc events with hostile strings wherever the target chooses them. */
const procEvent: fc.Arbitrary<ProcEvent> = fc.oneof(
  fc.record({ kind: fc.constant('file' as const), pid: fc.nat(), fd: fc.nat(), path: anyText.map((s) => `/tmp/${s}`) }),
  fc.record({ kind: fc.constant('env' as const), pid: fc.nat(), names: fc.array(fc.oneof(anyText, anyText.map((s) => `${s}_TOKEN`), fc.constant('SSH_AUTH_SOCK')), { maxLength: 6 }) }),
  fc.record({ kind: fc.constant('process' as const), pid: fc.nat(), ppid: fc.nat(), comm: anyText, exe: anyText, argv: fc.array(anyText, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant('rwx-region' as const), pid: fc.nat(), start: fc.nat(), end: fc.nat(), perms: fc.constant('rwxp'), path: anyText }),
);

function collect(events: RuntimeEvent[]): Alert[] {
  const rules = new RuleSet(DEFAULT_RULES);
  const a = new Assessment();
  for (const e of events) for (const f of rules.evaluate(e, ctx)) a.add(f);
  return a.alerts();
}

class Sink {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

function renderer(colour: boolean) {
  const out = new Sink();
  const err = new Sink();
  const view = new ConsoleRenderer(out as unknown as NodeJS.WritableStream, err as unknown as NodeJS.WritableStream, { colour, progress: false, timeout: 60, output: 'r.json' });
  return { view, out, err };
}

/** Our own SGR colour codes are the only escapes allowed out. */
const stripOwnColour = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function baseReport(): Report {
  return {
    pid: 1, verdict: 'CLEAN', threat_score: 0, bpf_used: true, duration: 1, alerts: [], new_connections: 0, rwx_regions: 0,
    score_breakdown: scoreBreakdown({ alerts: [], wxRegions: 0 }),
    schema_version: 1, tool: { name: 'wasmshark', version: '0.1.0' }, mode: 'bpf', bpf_error: null,
    started_at: new Date(0).toISOString(), ended_at: new Date(0).toISOString(), end_reason: 'timeout',
    target: {
      pid: 1, comm: 'x', exe: '/x', cmdline: [], launched: false, exit_code: null, exit_signal: null,
      runtime: { name: 'unknown', engine: '', version: null, jit: 'unknown', embedder: null }, user: { uid: 0, gid: 0, name: 'root', groups: [0] },
    },
    children: [], connections: [], syscalls: { source: 'none', total: 0, top: [] }, events: { total: 0, by_kind: {} },
    drops: { total: 0, by_kind: {}, stash: 0, userspace: 0, malformed: 0 },
    coverage: assessCoverage({
      bpf: true, bpfError: null, syscallMode: 'lean', kernel: null, hooks: [], launched: false, drops: null, malformed: 0, syscalls: 'none', pollIntervalMs: 500, endedOnError: false,
    }),
    capped: { children: 0, connections: 0, alerts: 0, handles: 0 },
    symbols: { enabled: true, perf_maps: [], note: null },
  };
}

describe('what reaches the console and the report', () => {
  it('escapeText: no control character or bidi override survives, lone surrogates become U+FFFD, long text is cut with a marker', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 1, max: 600 }), (s, max) => {
        const out = escapeText(s, max);
        expect(out).not.toMatch(TERMINAL_UNSAFE);
        expect(out).not.toContain('\n');
        expect(out).not.toMatch(LONE_SURROGATE);
        const points = [...s];
        if (points.length <= max) expect(out).toBe(escapeText(s, Infinity));
        else expect(out).toBe(`${escapeText(points.slice(0, max).join(''), Infinity)}…[+${points.length - max} chars]`);
      }),
      { numRuns: 500 },
    );
  });

  it('truncate: a prefix plus a marker, never longer than the limit plus the marker, never half a surrogate pair', () => {
    fc.assert(
      fc.property(longHostile, fc.integer({ min: 1, max: MAX_STRING }), (raw, max) => {
        const s = wellFormed(raw);
        const t = truncate(s, max);
        expect(t).not.toMatch(LONE_SURROGATE);
        if (s.length <= max) {
          expect(t).toBe(s);
          return;
        }
        const m = /^([^]*)…\[\+(\d+) chars\]$/.exec(t)!;
        expect(m).not.toBeNull();
        expect(s.startsWith(m[1])).toBe(true);
        expect(m[1].length).toBeLessThanOrEqual(max);
        expect(m[1].length).toBeGreaterThanOrEqual(max - 1);
        expect(m[1].length + Number(m[2])).toBe(s.length);
      }),
      { numRuns: 500 },
    );
    expect(truncate(`${'a'.repeat(9)}😀`, 10)).toBe('a'.repeat(9) + '…[+2 chars]');
  });

  it('every alert from hostile kernel records reaches the console escaped, three lines each, and the report as valid JSON', () => {
    fc.assert(
      fc.property(fc.array(wellFormedRecord, { minLength: 1, maxLength: 6 }), fc.boolean(), (recs, colour) => {
        const { events } = decodeBatch(frame(recs));
        const alerts = collect(events);
        const { view, out } = renderer(colour);
        for (const a of alerts) {
          const before = out.text.length;
          view.alert(a);
          const text = stripOwnColour(out.text.slice(before));
          expect(text).not.toMatch(TERMINAL_UNSAFE);
          expect(text.split('\n')).toHaveLength(4); // head, description, evidence, ''
          const r = reportAlert(a);
          expect(JSON.parse(JSON.stringify(r))).toEqual(r);
          for (const s of strings(r)) expect(s).not.toMatch(LONE_SURROGATE);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('every alert from hostile /proc text reaches the console escaped and the report cut and well-formed', () => {
    fc.assert(
      fc.property(fc.array(procEvent, { minLength: 1, maxLength: 6 }), (events) => {
        const alerts = collect(events);
        const { view, out } = renderer(false);
        for (const a of alerts) {
          const before = out.text.length;
          view.alert(a);
          const text = out.text.slice(before);
          expect(text).not.toMatch(TERMINAL_UNSAFE);
          expect(text.split('\n')).toHaveLength(4);
          const r = reportAlert(a);
          for (const k of ['title', 'description', 'evidence'] as const) expect(r[k].length).toBeLessThanOrEqual(MAX_STRING + 20);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('banner, warnings and summary escape everything the target or the system chose', () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 4 }), anyText, anyText, anyText, fc.boolean(), (cmdline, exe, comm, msg, colour) => {
        const { view, out, err } = renderer(colour);
        const runtime = { name: comm || 'x', engine: msg, version: exe, jit: 'rwx-mprotect' as const, modules: [], embedder: comm };
        // a user name comes from the user database, which a local admin (or NSS source) chooses
        const user = { uid: 1000, gid: 1000, name: comm, groups: [1000] };
        const info: MonitorInfo = { pid: 42, runtime, bpf: false, syscalls: null, bpfError: msg, comm, exe, cmdline, launched: false, user };
        view.banner(info, '0.1.0');
        view.warning(msg);
        const coverage = assessCoverage({
          bpf: false, bpfError: msg, syscallMode: null, kernel: null, hooks: [], launched: false, drops: null, malformed: 0, syscalls: 'sampled', pollIntervalMs: 500, endedOnError: false,
        });
        view.summary({ ...baseReport(), bpf_used: false, bpf_error: msg, drops: { total: 3, by_kind: { mmap: 3 }, stash: 0, userspace: 0, malformed: 0 }, coverage }, exe || 'r.json');
        expect(stripOwnColour(out.text)).not.toMatch(TERMINAL_UNSAFE);
        expect(stripOwnColour(err.text)).not.toMatch(TERMINAL_UNSAFE);
        expect(err.text.split('\n')).toHaveLength(2); // one warning line
        expect(out.text).toContain('Dropped events : 3 (ring buffer full; counted, see report)');
      }),
      { numRuns: 200 },
    );
  });

  it('the report text is valid JSON that reads back the same, well-formed, and safe to print on a terminal', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-hostile-report-'));
    try {
      fc.assert(
        fc.property(fc.array(procEvent, { maxLength: 4 }), fc.array(anyText, { maxLength: 4 }), anyText, anyText, (events, argv, exe, comm) => {
          const alerts = collect(events);
          const report: Report = {
            ...baseReport(),
            alerts: alerts.map(reportAlert),
            score_breakdown: reportScoreBreakdown(scoreBreakdown({ alerts, wxRegions: 0 })),
            bpf_error: exe,
            target: { ...baseReport().target, comm, exe: truncate(exe, 1024), cmdline: argv.map((a) => truncate(a, 1024)) },
            children: [{ pid: 2, ppid: 1, program: truncate(exe, 1024), argv, exit_code: 0, signal: null }],
          };
          const text = reportJson(report);
          // what goes to stderr when the disk is full goes to the analyst's terminal
          expect(text.replace(/\n/g, '')).not.toMatch(TERMINAL_UNSAFE);
          expect(text).not.toMatch(LONE_SURROGATE);
          expect(text).not.toMatch(LONE_SURROGATE_ESCAPE);
          const back = JSON.parse(text);
          expect(back).toEqual(JSON.parse(JSON.stringify(report, (_k, v) => (typeof v === 'string' ? wellFormed(v) : v))));
          const file = path.join(dir, 'r.json');
          writeReport(file, report);
          expect(fs.readFileSync(file, 'utf8')).toBe(text);
        }),
        { numRuns: 200 },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// End to end: a real child with a hostile name and arguments, seen by the kernel

describeBpf('a child with a hostile name and arguments, end to end (CLI, eBPF)', () => {
  it('shows the name and arguments escaped on the console and well-formed in the report', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmshark-hostile-cli-'));
    try {
      const out = path.join(dir, 'r.json');
      // the program name: an erase-screen escape, an RLO, C1 CSI and a byte that is not UTF-8;
      // its arguments: a newline with an OSC title, and a CESU-8 surrogate (no lone surrogate may come out of it)
      const script = `n=$(printf 'evil\\033[2J\\342\\200\\256\\302\\233\\377'); cp /bin/true "$1/$n"; "$1/$n" "$(printf 'a\\nb\\033]0;pwned\\007')" "$(printf '\\355\\240\\200')"`;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--bpf', '--output', out, '--as-root', '--', 'sh', '-c', script, 'sh', dir], {
        encoding: 'utf8',
        env: { ...withoutSudo(), NO_COLOR: '1' },
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/\[HIGH\] PROCESS Child process spawned: evil\\x1b\[2J\\u\{202e\}\\x9b\ufffd\n/);
      expect(r.stdout).not.toMatch(TERMINAL_UNSAFE);
      expect(r.stderr).not.toMatch(TERMINAL_UNSAFE);
      const text = fs.readFileSync(out, 'utf8');
      expect(text).not.toMatch(LONE_SURROGATE_ESCAPE);
      expect(text.replace(/\n/g, '')).not.toMatch(TERMINAL_UNSAFE);
      const report = JSON.parse(text) as Report;
      const child = report.children.find((c) => c.program.includes('evil'))!;
      expect(child.program).toBe(`${dir}/evil\x1b[2J\u202e\u009b\ufffd`);
      expect(child.argv).toEqual([`${dir}/evil\x1b[2J\u202e\u009b\ufffd`, 'a\nb\x1b]0;pwned\x07', '\ufffd\ufffd\ufffd']);
      for (const s of strings(report)) expect(s).not.toMatch(LONE_SURROGATE);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
