export * from './events';
export { startProbes, Probes, ProbeError } from './probes';
export type { ProbeOptions, ProbeEvents, DropCounts } from './probes';
export { launch } from './launch';
export type { LaunchOptions, Launched } from './launch';
export { decodeBatch } from './sources/bpf/decode';
