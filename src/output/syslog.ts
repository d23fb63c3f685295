/**
 * The same line objects to the local syslog daemon: RFC 5424 messages, one
 * datagram each, on its AF_UNIX socket (/dev/log). Node's dgram module has no
 * AF_UNIX and libc's syslog(3) writes the older BSD format to a fixed path,
 * so the datagrams go out through a few lines of the addon
 * (native/unix_dgram.cc), which ships prebuilt: nothing to compile, unlike
 * the npm packages that offer unix datagrams (their install scripts need a
 * compiler, and npm 11 does not run them unless approved).
 *
 *   <28>1 2026-12-02T13:14:15.123Z edge-7 wasmshark 4242 alert - {"schema_version":1,...}
 *
 * Facility daemon (3); severity from the alert level. The message is the
 * NDJSON line, ASCII only (other characters as JSON \u escapes), cut to fit
 * what syslog daemons accept by default (8 KiB in rsyslog).
 */
import * as fs from 'fs';
import * as os from 'os';
import type { Level } from '../alerts';
import { loadAddon, type NativeAddon } from '../native';
import { lineJson, type Line } from './lines';
import type { LineSink } from './ndjson';

export const DEFAULT_SYSLOG_SOCKET = '/dev/log';

const FACILITY_DAEMON = 3;
/** RFC 5424 severities: 2 critical, 3 error, 4 warning, 5 notice, 6 informational, 7 debug. */
const LEVEL_SEVERITY: Record<Level, number> = { CRITICAL: 2, HIGH: 3, MEDIUM: 4, LOW: 5, INFO: 6 };
const VERDICT_SEVERITY: Record<string, number> = { MALICIOUS: 2, SUSPICIOUS: 4, POTENTIALLY_UNWANTED: 5, CLEAN: 6 };
/** rsyslog's default maxMessageSize is 8 KiB, header included. */
export const MAX_MESSAGE = 8000;

function severity(line: Line): number {
  switch (line.type) {
    case 'alert':
      return LEVEL_SEVERITY[line.level];
    case 'verdict':
      return VERDICT_SEVERITY[line.verdict] ?? 6;
    case 'runtime':
      return 6;
    case 'event':
      return 7;
  }
}

/** RFC 5424 header fields are printable US-ASCII without spaces, or '-' (NILVALUE). */
function headerField(s: string, max: number): string {
  return /^[\x21-\x7e]+$/.test(s) ? s.slice(0, max) : '-';
}

const asciiOnly = (json: string) => json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Halves the longest string in the object until the JSON fits; the line object is not modified. */
function fit(line: Line, max: number): string {
  let json = asciiOnly(lineJson(line));
  if (json.length <= max) return json;
  const copy = JSON.parse(JSON.stringify(line)) as Record<string, unknown>;
  for (let round = 0; round < 200 && json.length > max; round++) {
    let longest: { holder: Record<string, unknown> | unknown[]; key: string | number; length: number } | null = null;
    const visit = (holder: Record<string, unknown> | unknown[]) => {
      for (const [k, v] of Object.entries(holder)) {
        const key = Array.isArray(holder) ? Number(k) : k;
        if (typeof v === 'string' && v.length > 32 && (!longest || v.length > longest.length)) longest = { holder, key, length: v.length };
        else if (v && typeof v === 'object') visit(v as Record<string, unknown>);
      }
    };
    visit(copy);
    if (!longest) break;
    const { holder, key, length } = longest as { holder: Record<string | number, unknown>; key: string | number; length: number };
    holder[key] = `${(holder[key] as string).slice(0, Math.floor(length / 2))}…[cut]`;
    json = asciiOnly(lineJson(copy as unknown as Line));
  }
  return json.slice(0, max); // only if nothing was left to cut: a broken line beats a lost one
}

/** One RFC 5424 message for a line. */
export function syslogMessage(line: Line, pid = process.pid): string {
  const pri = FACILITY_DAEMON * 8 + severity(line);
  const header = `<${pri}>1 ${line.time} ${headerField(line.hostname, 255)} wasmshark ${pid} ${headerField(line.type, 32)} - `;
  return header + fit(line, MAX_MESSAGE - header.length);
}

function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}

export class SyslogSink implements LineSink {
  sent = 0;
  dropped = 0;
  /** The errno of the last failed send (0 if none). */
  lastErrno = 0;
  private readonly addon: NativeAddon;
  private fd: number;

  /**
   * Checks the socket is there now, so a wrong path fails before the
   * monitoring starts; later failures (the daemon restarting, its queue full)
   * are counted as dropped and reported through `onFirstFailure`.
   */
  constructor(
    readonly path = DEFAULT_SYSLOG_SOCKET,
    private readonly onFirstFailure: (message: string) => void = () => undefined,
  ) {
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch {
      throw new Error(`cannot use syslog socket ${path}: it does not exist (is a syslog daemon running?)`);
    }
    if (!st.isSocket()) throw new Error(`cannot use syslog socket ${path}: not a socket`);
    this.addon = loadAddon();
    this.fd = this.addon.openUnixDatagram();
  }

  write(line: Line): void {
    if (this.fd < 0) return;
    const errno = this.addon.sendUnixDatagram(this.fd, this.path, Buffer.from(syslogMessage(line), 'latin1'));
    if (errno === 0) {
      this.sent++;
      return;
    }
    this.dropped++;
    if (this.lastErrno === 0) this.onFirstFailure(`cannot send to syslog socket ${this.path} (${errnoName(errno)}); messages are counted as dropped`);
    this.lastErrno = errno;
  }

  close(): void {
    if (this.fd >= 0) this.addon.closeUnixDatagram(this.fd);
    this.fd = -1;
  }
}
