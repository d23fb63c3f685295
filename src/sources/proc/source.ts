/**
 * The /proc source: polls /proc for the followed process tree and reports
 * what it finds there as ProcEvents. It is the whole of --no-bpf mode, and in
 * --bpf mode it still supplies what the probes do not see (environment names,
 * open files, socket states, RWX regions that already existed).
 *
 *   const proc = new ProcSource(pid, { sampleSyscalls: true });
 *   proc.on('event', (e) => ...);
 *   proc.start();
 *   ...
 *   proc.scanNow(); // catch short-lived state before reporting
 *   proc.stop();
 *
 * The target may be hostile and its processes vanish at any moment: a /proc
 * read that fails because a process is gone or not ours to read skips that
 * process for this pass, and every per-process read is capped so no target
 * can make a pass unbounded. Environment values are read only to be stepped
 * over, then wiped; they are never kept or logged.
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import { Clock, type Task } from '../../clock';
import type { ProcConnectionEvent, ProcEvent } from '../../events';
import { MAX_FD_ENTRIES, MAX_FDS, readFdWindow, socketInodes, type FdTarget } from '../../proc/fds';
import { parseEnvironNames, parseMaps, parseNetTable, parseSyscall, type NetEntry } from '../../proc/parse';
import { isAlive, isLiveStat, readStat, type ProcStat } from '../../proc/stat';
import { listPids, MAPS_BYTES, readArgv, readBounded, readLinkOr } from '../../proc/read';

export interface ProcSourceOptions {
  /** Milliseconds between scans (default 500). */
  intervalMs?: number;
  /** Follow descendants of the root as well (default true). */
  followChildren?: boolean;
  /** Estimate syscall frequencies by sampling /proc/PID/task/TID/syscall (default false). */
  sampleSyscalls?: boolean;
  /** Milliseconds between syscall samples (default 50). */
  sampleIntervalMs?: number;
  /**
   * The kernel probes follow the tree and say when a process forked
   * (addPid), exec'd (execd) or mapped code (mapped): after the first pass,
   * a pass looks only at what the kernel does not report, open files and
   * socket states, and reads a process's image or mappings again only when
   * told (default false). The watch runs one source per runtime, so a pass
   * must cost little.
   */
  kernelFollows?: boolean;
  /**
   * Passes and samples that find nothing new slow down (passes to
   * IDLE_SCAN_MS, samples to IDLE_SAMPLE_MS) until the tree shows activity
   * again: a sample that differs, a pass that finds something, or poke()
   * from the kernel probes. Only where the probes see what the tree does
   * (default: kernelFollows).
   */
  slowWhenIdle?: boolean;
  /** The timer to run on (the session's one clock); by default the source has its own. */
  clock?: Clock;
}

export interface ProcSourceEvents {
  event: [ProcEvent];
  error: [Error];
}

const DEFAULTS = { intervalMs: 500, followChildren: true, sampleSyscalls: false, sampleIntervalMs: 50, kernelFollows: false };
/**
 * Where the periods grow to while the kernel follows the tree and nothing
 * changes: at least these, and at least IDLE_FACTOR times the busy period
 * (the watch's 2 s passes slow to 8 s).
 */
const IDLE_SCAN_MS = 2000;
const IDLE_SAMPLE_MS = 1600;
const IDLE_FACTOR = 4;

/* Caps on one pass, so a hostile target cannot make it unbounded. */
const MAX_PROCESSES = 4096;
const MAX_THREADS = 4096;
const MAX_MAP_LINES = 65536;
/** Per-process memory of what was already reported (fd+path keys, RWX starts). */
const MAX_REMEMBERED = 65536;
const MAX_ARGS = 8;
const ARG_BYTES = 127;
/** The kernel limits argv+envp to 6 MiB at exec; a little more covers it. */
const ENVIRON_BYTES = 8 << 20;
const NET_TABLE_BYTES = 32 << 20;

/** Devices every process has open: reporting them would only be noise. */
const QUIET_DEVICES = /^\/dev\/(null|pts\/.*|tty.*|urandom|random)$/;

/** What a /proc read fails with when the process is gone or not ours to read. */
const SKIP_CODES = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM']);

const NET_TABLES: Array<[file: string, protocol: 'tcp' | 'udp', family: 'inet' | 'inet6']> = [
  ['tcp', 'tcp', 'inet'],
  ['tcp6', 'tcp', 'inet6'],
  ['udp', 'udp', 'inet'],
  ['udp6', 'udp', 'inet6'],
];

interface NetHit {
  protocol: 'tcp' | 'udp';
  family: 'inet' | 'inet6';
  entry: NetEntry;
}

interface SocketSeen {
  protocol: 'tcp' | 'udp';
  /** Remote 'address|port' when last reported, null when it had none. */
  peer: string | null;
  state: string;
}

/** One followed process; pid plus start time tell a reused pid apart. */
interface Followed {
  pid: number;
  startTicks: number;
  /** exe and argv when last seen: a change means it exec'd. */
  image: string | null;
  envReported: boolean;
  /** Where this pass's window of fds starts (see readFdWindow). */
  fdCursor: number;
  files: Set<string>;
  sockets: Map<number, SocketSeen>;
  rwx: Set<number>;
  /** With kernelFollows: read the image / the mappings again at the next pass. */
  imageStale: boolean;
  mapsStale: boolean;
  /** Passes in a row its exe link could not be read (it is mid-exec, or exiting). */
  exeMisses: number;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

type CheckedOptions = Readonly<Required<Omit<ProcSourceOptions, 'clock' | 'slowWhenIdle'>> & { slowWhenIdle: boolean }>;

function checkOptions(options: ProcSourceOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('proc source options must be an object');
  const { clock, ...rest } = options;
  if (clock !== undefined && !(clock instanceof Clock)) throw new TypeError('proc source clock must be a Clock');
  const o = { ...DEFAULTS, ...rest, slowWhenIdle: rest.slowWhenIdle ?? rest.kernelFollows ?? DEFAULTS.kernelFollows };
  for (const key of ['intervalMs', 'sampleIntervalMs'] as const) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > 2 ** 31 - 1) {
      throw new RangeError(`proc source ${key} must be a number of milliseconds from 1 to 2147483647, got ${String(v)}`);
    }
  }
  for (const key of ['followChildren', 'sampleSyscalls', 'kernelFollows', 'slowWhenIdle'] as const) {
    if (typeof o[key] !== 'boolean') throw new TypeError(`proc source ${key} must be true or false, got ${String(o[key])}`);
  }
  return Object.freeze(o);
}

function checkPid(pid: number, what: string): void {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x3fffffff) {
    throw new TypeError(`${what} must be a positive integer pid, got ${String(pid)}`);
  }
}

export class ProcSource extends EventEmitter<ProcSourceEvents> {
  private readonly rootPid: number;
  private readonly options: CheckedOptions;
  private readonly clock: Clock;
  /** The clock is the source's own (stopped with it), not a session's. */
  private readonly ownClock: boolean;
  /** The root's start time, once seen: a later different one means the pid was reused. */
  private rootStart: number | null = null;
  private readonly followed = new Map<number, Followed>();
  /** Pids another source found in the tree, with their start time when added. */
  private readonly added = new Map<number, number>();
  /** Followed and alive at the end of the last pass. */
  private current: number[] = [];
  private readonly counts = new Map<number, number>();
  private sampleCount = 0;
  private scanTask: Task | null = null;
  private sampleTask: Task | null = null;
  /** What the last sample saw (thread:syscall pairs), to tell a quiet tree from a busy one. */
  private lastSample = '';
  private started = false;
  /** Scans run so far. */
  private passes = 0;
  /** What a pass found, delivered once the pass is over. */
  private outbox: Array<ProcEvent | Error> = [];
  private exited = false;
  /** Kernels without CONFIG_PROC_CHILDREN lack /proc/PID/task/TID/children. */
  private readonly hasChildrenFiles = fs.existsSync(`/proc/${process.pid}/task/${process.pid}/children`);

  constructor(rootPid: number, options: ProcSourceOptions = {}) {
    super();
    checkPid(rootPid, 'proc source root');
    this.rootPid = rootPid;
    this.options = checkOptions(options);
    this.ownClock = options.clock === undefined;
    this.clock = options.clock ?? new Clock();
  }

  /** Scans at once, then every intervalMs; also starts syscall sampling when asked for. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.scanNow();
    if (this.exited) return;
    const slows = this.options.slowWhenIdle;
    const { intervalMs, sampleIntervalMs } = this.options;
    this.scanTask = this.clock.every(intervalMs, () => this.pass(), { idleMs: slows ? Math.max(intervalMs * IDLE_FACTOR, IDLE_SCAN_MS) : intervalMs });
    if (this.options.sampleSyscalls) {
      this.sampleTask = this.clock.every(sampleIntervalMs, () => this.sample(), {
        idleMs: slows ? Math.max(sampleIntervalMs * IDLE_FACTOR, IDLE_SAMPLE_MS) : sampleIntervalMs,
      });
      this.sample();
    }
  }

  /** Stops the periodic work. scanNow() still works until the target has exited. */
  stop(): void {
    this.scanTask?.cancel();
    this.sampleTask?.cancel();
    this.scanTask = null;
    this.sampleTask = null;
    if (this.ownClock) this.clock.stop();
  }

  /** The current periods of passes and samples (null when not running): they grow while the tree is idle. */
  pace(): { scanMs: number | null; sampleMs: number | null } {
    return { scanMs: this.scanTask?.currentMs ?? null, sampleMs: this.sampleTask?.currentMs ?? null };
  }

  /** The tree did something (another source saw it): back to the full pace. */
  poke(): void {
    this.scanTask?.busy();
    this.sampleTask?.busy();
  }

  /** A periodic pass: one that finds nothing new lets the next wait longer. */
  private pass(): void {
    if (this.scanNow() === 0) this.scanTask?.quiet();
    else this.sampleTask?.busy();
  }

  /** Another source (the kernel probes) found this process in the tree: follow it from now on. */
  addPid(pid: number): void {
    checkPid(pid, 'addPid');
    if (this.exited || pid === this.rootPid) return;
    const stat = readStat(pid);
    // Gone already (short-lived children often are by the time their fork is handled): nothing to
    // follow. Kept without a start time, the pid would take in whatever process is given it next.
    if (!isLiveStat(stat)) return;
    this.added.set(pid, stat.startTicks);
  }

  /** Processes currently followed and alive. */
  pids(): number[] {
    return this.current.filter((pid) => isAlive(pid));
  }

  /** Sampled syscall numbers and how often each was seen. */
  syscallCounts(): Map<number, number> {
    return new Map(this.counts);
  }

  /** How many sampling passes ran. */
  samples(): number {
    return this.sampleCount;
  }

  /** One synchronous pass over the followed tree; returns how many events and errors it delivered. */
  scanNow(): number {
    if (this.exited) return 0;
    try {
      this.scan();
    } catch (err) {
      this.report(err, 'cannot scan /proc');
    }
    // Delivered after the pass, outside the try: a listener's exception is its own, not a /proc error.
    const out = this.outbox;
    this.outbox = [];
    for (const item of out) {
      if (item instanceof Error) {
        if (this.listenerCount('error') > 0) this.emit('error', item);
      } else {
        this.emit('event', item);
      }
    }
    return out.length;
  }

  private scan(): void {
    this.passes++;
    const stat = readStat(this.rootPid);
    const root = isLiveStat(stat) && (this.rootStart === null || stat.startTicks === this.rootStart) ? stat : null;
    if (root) this.rootStart = root.startTicks;

    // Once the root is gone, the rest of the tree still gets this last look.
    const tree = this.findTree(root);
    // One read of the net tables per network namespace per pass: processes share them.
    const tables = new Map<string, Map<number, NetHit>>();
    for (const [pid, stat] of tree) this.inspect(pid, stat, tables);
    this.current = [...tree.keys()];

    if (!root) {
      this.exited = true;
      this.stop();
      this.current = [];
      this.outbox.push({ kind: 'target-exit', pid: this.rootPid });
    }
  }

  /**
   * The processes to look at this pass: the root, everything followed before
   * (a daemonised grandchild is reparented away from the tree but stays
   * followed), pids added by other sources, and their descendants.
   */
  private findTree(rootStat: ProcStat | null): Map<number, ProcStat> {
    const tree = new Map<number, ProcStat>();
    const queue: number[] = [];
    const take = (pid: number, stat: ProcStat) => {
      if (tree.size >= MAX_PROCESSES || tree.has(pid)) return;
      tree.set(pid, stat);
      queue.push(pid);
    };
    /** A pid known from before: followed only while it is the same process. */
    const known = (pid: number, startTicks: number): boolean => {
      const stat = readStat(pid);
      if (!isLiveStat(stat) || stat.startTicks !== startTicks) return false;
      take(pid, stat);
      return true;
    };

    if (rootStat) take(this.rootPid, rootStat);
    for (const f of [...this.followed.values()]) {
      if (f.pid !== this.rootPid && !known(f.pid, f.startTicks)) this.followed.delete(f.pid);
    }
    for (const [pid, startTicks] of [...this.added]) {
      if (!known(pid, startTicks)) this.added.delete(pid);
    }
    // the kernel reports children from the first pass on: the walk is for those that were there before
    if (!this.options.followChildren || (this.options.kernelFollows && this.passes > 1)) return tree;

    let byParent: Map<number, number[]> | null = null;
    for (let i = 0; i < queue.length && tree.size < MAX_PROCESSES; i++) {
      const parent = queue[i];
      let children: number[];
      if (this.hasChildrenFiles) {
        children = this.childrenOf(parent);
      } else {
        byParent ??= this.parentIndex();
        children = byParent.get(parent) ?? [];
      }
      for (const child of children) {
        const stat = readStat(child);
        // The ppid check drops a child that exited and whose pid was reused since the list was read.
        if (isLiveStat(stat) && stat.ppid === parent) take(child, stat);
      }
    }
    return tree;
  }

  /** Children of every thread of pid (each thread has its own list). */
  private childrenOf(pid: number): number[] {
    const out: number[] = [];
    for (const tid of listPids(`/proc/${pid}/task`, MAX_THREADS)) {
      let text: string;
      try {
        text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
      } catch {
        continue; // thread gone
      }
      for (const word of text.split(' ')) {
        const n = Number(word);
        if (word !== '' && Number.isSafeInteger(n) && n > 0) out.push(n);
      }
    }
    return out;
  }

  /** Fallback without children files: every process's ppid, from /proc/PID/stat. */
  private parentIndex(): Map<number, number[]> {
    const index = new Map<number, number[]>();
    for (const pid of listPids('/proc', Infinity)) {
      const stat = readStat(pid);
      if (!stat) continue;
      const list = index.get(stat.ppid);
      if (list) list.push(pid);
      else index.set(stat.ppid, [pid]);
    }
    return index;
  }

  private inspect(pid: number, stat: ProcStat, tables: Map<string, Map<number, NetHit>>): void {
    let f = this.followed.get(pid);
    if (!f || f.startTicks !== stat.startTicks) {
      f = {
        pid, startTicks: stat.startTicks, image: null, envReported: false, fdCursor: 0, files: new Set(), sockets: new Map(), rwx: new Set(),
        imageStale: true, mapsStale: true, exeMisses: 0,
      };
      this.followed.set(pid, f);
    }
    const look = !this.options.kernelFollows;
    // unreadable for now: again next pass
    if (look || f.imageStale) f.imageStale = !this.checkImage(f, stat) || f.image === null;
    if (!f.envReported && f.image !== null) this.checkEnv(f);
    const skip = f.fdCursor;
    const fds = readFdWindow(pid, skip, MAX_FDS);
    f.fdCursor = fds.complete || skip + MAX_FDS >= MAX_FD_ENTRIES ? 0 : skip + MAX_FDS;
    this.checkFiles(f, fds.targets);
    this.checkSockets(f, fds.targets, skip === 0 && fds.complete, tables);
    if (look || f.mapsStale) this.checkMaps(f);
    f.mapsStale = false;
  }

  /** The kernel saw pid exec: its image (and environment) is read again next pass. */
  execd(pid: number): void {
    const f = this.followed.get(pid);
    if (f) f.imageStale = true;
  }

  /** The kernel saw pid map or protect code: its mappings are read again next pass. */
  mapped(pid: number): void {
    const f = this.followed.get(pid);
    if (f) f.mapsStale = true;
  }

  /** A process event when a process is first seen, and again when it has exec'd. */
  /** Reports the process's image if it is new; false when it should be looked at again next pass. */
  private checkImage(f: Followed, stat: ProcStat): boolean {
    const exe = readLinkOr(`/proc/${f.pid}/exe`, '');
    // No exe while the command line is there: caught mid-exec (the kernel reports the exec itself
    // when it follows the process) or exiting. One pass later it has settled; if it still has none
    // (not ours to read), it is reported by its argv.
    if (exe === '' && f.exeMisses++ < 1) return false;
    f.exeMisses = 0;
    const argv = this.read(f.pid, 'cmdline', () => readArgv(f.pid, MAX_ARGS, ARG_BYTES));
    if (argv === null) return false;
    const image = `${exe}\0${argv.join('\0')}`;
    if (image === f.image) return true;
    f.image = image;
    f.envReported = false;
    if (f.pid !== this.rootPid) {
      // comm read again after exe and argv, so an exec between the reads cannot pair the old name with the new image
      const now = readStat(f.pid);
      const comm = now && now.startTicks === stat.startTicks ? now.comm : stat.comm;
      this.outbox.push({ kind: 'process', pid: f.pid, ppid: stat.ppid, comm, exe, argv });
    }
    return true;
  }

  private checkEnv(f: Followed): void {
    const names = this.read(f.pid, 'environ', () => {
      const buf = readBounded(`/proc/${f.pid}/environ`, ENVIRON_BYTES);
      const found = parseEnvironNames(buf);
      buf.fill(0);
      // An empty read is a process whose memory is already gone: try again next pass.
      return buf.length > 0 ? found : null;
    });
    if (names === null) return;
    f.envReported = true;
    this.outbox.push({ kind: 'env', pid: f.pid, names });
  }

  private checkFiles(f: Followed, targets: FdTarget[]): void {
    for (const { fd, target } of targets) {
      if (!target.startsWith('/') || QUIET_DEVICES.test(target)) continue;
      const key = `${fd}\0${target}`;
      if (f.files.has(key) || f.files.size >= MAX_REMEMBERED) continue;
      f.files.add(key);
      this.outbox.push({ kind: 'file', pid: f.pid, fd, path: target });
    }
  }

  /**
   * Sockets of this process, looked up in its own namespace's tables. A known
   * socket is reported again when it gains a (new) peer, as after connect()
   * on a bound socket or a UDP socket connected elsewhere, or when a connect
   * under way completes.
   */
  private checkSockets(f: Followed, targets: FdTarget[], allFds: boolean, tables: Map<string, Map<number, NetHit>>): void {
    const inodes = socketInodes(targets);
    if (allFds) {
      for (const inode of f.sockets.keys()) if (!inodes.has(inode)) f.sockets.delete(inode); // closed
    }
    // Look again only where a report may still come: a listening or connected TCP socket never gains a new peer.
    const pending = [...inodes].filter((inode) => {
      const seen = f.sockets.get(inode);
      if (!seen || seen.protocol === 'udp') return true;
      return seen.state === 'SYN_SENT' || (seen.peer === null && seen.state !== 'LISTEN');
    });
    if (pending.length === 0) return;
    const table = this.read(f.pid, 'net tables', () => this.netTable(f.pid, tables));
    if (table === null) return;
    for (const inode of pending) {
      const hit = table.get(inode);
      if (!hit) continue; // not TCP/UDP over IP, or not bound or connected yet
      const { entry } = hit;
      const unspecified = entry.remotePort === 0 && (entry.remoteAddress === '0.0.0.0' || entry.remoteAddress === '::');
      const peer = unspecified ? null : `${entry.remoteAddress}|${entry.remotePort}`;
      const seen = f.sockets.get(inode);
      const report =
        !seen ||
        (peer !== null && peer !== seen.peer) ||
        (peer !== null && entry.state === 'ESTABLISHED' && seen.state !== 'ESTABLISHED');
      if (!seen && f.sockets.size >= MAX_REMEMBERED) continue;
      f.sockets.set(inode, { protocol: hit.protocol, peer, state: entry.state });
      if (!report) continue;
      const event: ProcConnectionEvent = {
        kind: 'connection',
        pid: f.pid,
        protocol: hit.protocol,
        family: hit.family,
        localAddress: entry.localAddress,
        localPort: entry.localPort,
        remoteAddress: entry.remoteAddress,
        remotePort: entry.remotePort,
        state: entry.state,
        inode,
      };
      this.outbox.push(event);
    }
  }

  /** The TCP and UDP sockets of pid's network namespace, by inode. */
  private netTable(pid: number, tables: Map<string, Map<number, NetHit>>): Map<number, NetHit> {
    const ns = readLinkOr(`/proc/${pid}/ns/net`, `pid:${pid}`);
    const cached = tables.get(ns);
    if (cached) return cached;
    const table = new Map<number, NetHit>();
    for (const [file, protocol, family] of NET_TABLES) {
      let text: string;
      try {
        text = readBounded(`/proc/${pid}/net/${file}`, NET_TABLE_BYTES).toString('latin1');
      } catch (err) {
        if (SKIP_CODES.has(errorCode(err) ?? '')) continue; // no IPv6 here, or the process is gone
        throw err;
      }
      for (const entry of parseNetTable(text, protocol, family)) {
        if (entry.inode !== 0) table.set(entry.inode, { protocol, family, entry });
      }
    }
    tables.set(ns, table);
    return table;
  }

  private checkMaps(f: Followed): void {
    const regions = this.read(f.pid, 'maps', () => parseMaps(readBounded(`/proc/${f.pid}/maps`, MAPS_BYTES).toString('utf8'), MAX_MAP_LINES));
    for (const region of regions ?? []) {
      if (!region.perms.startsWith('rwx') || f.rwx.has(region.start) || f.rwx.size >= MAX_REMEMBERED) continue;
      f.rwx.add(region.start);
      this.outbox.push({ kind: 'rwx-region', pid: f.pid, start: region.start, end: region.end, perms: region.perms, path: region.path });
    }
  }

  /**
   * One sampling pass over every thread of every followed process. This is a
   * frequency estimate, not a count: a thread blocked in the same syscall is
   * counted once per sample however long it waits, and syscalls that begin
   * and end between two samples are never seen.
   */
  private sample(): void {
    this.sampleCount++;
    // a sample taken after a longer wait stands for that much more time
    const weight = this.sampleTask?.weight ?? 1;
    const seen: string[] = [];
    let running = false;
    for (const pid of this.current) {
      for (const tid of listPids(`/proc/${pid}/task`, MAX_THREADS)) {
        let text: string;
        try {
          text = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1');
        } catch {
          continue; // thread gone, or not ours to read
        }
        const s = parseSyscall(text);
        if (s === 'running') running = true;
        if (s === null || s === 'running') continue;
        this.counts.set(s.nr, (this.counts.get(s.nr) ?? 0) + weight);
        seen.push(`${tid}:${s.nr}`);
      }
    }
    // every thread waiting where it waited last time: the tree is idle
    const now = seen.join(' ');
    if (!running && now === this.lastSample) {
      this.sampleTask?.quiet();
    } else {
      this.sampleTask?.busy();
      this.scanTask?.busy();
    }
    this.lastSample = now;
  }

  /**
   * Runs one /proc read for pid; null means skip it this pass (gone, not ours
   * to read, or an unexpected error, which is reported).
   */
  private read<T>(pid: number, what: string, fn: () => T): T | null {
    try {
      return fn();
    } catch (err) {
      if (!SKIP_CODES.has(errorCode(err) ?? '')) this.report(err, `cannot read ${what} of pid ${pid}`);
      return null;
    }
  }

  private report(err: unknown, context: string): void {
    const message = err instanceof Error ? err.message : String(err);
    this.outbox.push(new Error(`${context}: ${message}`));
  }
}
