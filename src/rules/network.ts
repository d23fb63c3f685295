/** Outbound connections, ports worth naming, host-control sockets. */
import type { Finding } from '../alerts';
import type { ConnectEvent, ProcConnectionEvent } from '../events';
import type { RulesConfig } from './config';
import { endpoint, resultText } from './format';

const EINPROGRESS = -115;

/** One outbound connection, from either source. */
export interface Outbound {
  pid: number;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  /** 'ok', 'in progress', or the errno name. */
  state: string;
  established: boolean;
}

export function connectionKey(c: Outbound): string {
  return `${c.protocol}:${endpoint(c.address, c.port)}`;
}

export function outboundFromConnect(e: ConnectEvent): Outbound | null {
  if (e.family !== 'inet' && e.family !== 'inet6') return null;
  if (e.socketType !== 'stream' && e.socketType !== 'dgram') return null;
  return {
    pid: e.pid,
    protocol: e.socketType === 'stream' ? 'tcp' : 'udp',
    address: e.address,
    port: e.port,
    state: e.result === EINPROGRESS ? 'in progress' : resultText(e.result),
    established: e.ok || e.result === EINPROGRESS,
  };
}

export function outboundFromProc(e: ProcConnectionEvent, listening: boolean): Outbound | null {
  if (e.remotePort === 0 || e.state === 'LISTEN' || e.state === 'UNCONN' || listening) return null;
  return {
    pid: e.pid,
    protocol: e.protocol,
    address: e.remoteAddress,
    port: e.remotePort,
    state: e.state,
    established: e.state === 'ESTABLISHED' || e.state === 'SYN_SENT',
  };
}

export function outboundRules(c: Outbound, config: RulesConfig): Finding[] {
  const findings: Finding[] = [];
  const where = endpoint(c.address, c.port);
  const evidence = `${where} ${c.protocol} ${c.state} pid=${c.pid}`;
  const service = config.ports[String(c.port)];
  if (service) {
    findings.push({
      rule: 'network.port',
      key: `${c.protocol}:${where}`,
      level: 'HIGH',
      category: 'NETWORK',
      title: `Connection to port ${c.port} (${service})`,
      description: 'the runtime contacted a port used by anonymity networks, mining pools or C2 channels',
      evidence,
      pid: c.pid,
    });
  }
  if (c.established) {
    findings.push({
      rule: 'network.outbound',
      key: `${c.protocol}:${where}`,
      level: 'MEDIUM',
      category: 'NETWORK',
      title: c.protocol === 'tcp' ? 'Outbound TCP connection established' : 'Outbound UDP flow opened',
      description: `the WASM runtime connected to ${where}`,
      evidence,
      pid: c.pid,
    });
  }
  return findings;
}

export function unixSocketRules(e: ConnectEvent, config: RulesConfig): Finding[] {
  if (e.family !== 'unix') return [];
  const what = config.sensitiveSockets[e.path];
  if (!what) return [];
  return [
    {
      rule: 'network.control-socket',
      key: e.path,
      level: 'HIGH',
      category: 'NETWORK',
      title: `Connection to the ${what} socket`,
      description: 'whoever talks to this socket controls the host',
      evidence: `path=${e.path} ${resultText(e.result)} pid=${e.pid}`,
      pid: e.pid,
    },
  ];
}
