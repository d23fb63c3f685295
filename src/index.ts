/**
 * wasmshark as a library.
 *
 *   import { monitor } from 'wasmshark';
 *   const m = monitor(pid, { timeout: 30 });
 *   m.on('alert', (a) => console.log(a.level, a.title));
 *   const report = await m.done;
 *
 *   import { watch } from 'wasmshark';
 *   const w = watch({ runtimes: 'all', outputDir: '/var/lib/wasmshark' });
 *   w.on('alert', (a, rt) => console.log(rt.runtime.name, rt.pid, a.level, a.title));
 *   await w.stop();
 */
export { monitor, monitorCommand, Monitor } from './monitor';
export type { MonitorOptions, MonitorCommandOptions, MonitorInfo, MonitorEvents } from './monitor';
export { watch, Watch, DEFAULT_WATCH_LIMITS } from './watch';
export type { WatchOptions, WatchEvents, WatchInfo, WatchLimits, WatchStats, WatchedRuntime, FoundBy } from './watch';
export { KNOWN_RUNTIMES, type RuntimeInfo } from './runtime/identify';
export type { Alert, Finding, Level, Category } from './alerts';
export type { Report, ReportAlert, ReportChild, ReportConnection, EndReason } from './report';
export type { CaseLimits } from './case';
export { writeReport } from './report';
export { scoreBreakdown, threatScore, verdict, type ScoreBreakdown, type ScoreContribution, type Verdict } from './score';
export { DEFAULT_RULES, loadRules, type RulesConfig } from './rules';
export * from './events';
export { startProbes, Probes, ProbeError } from './probes';
export type { ProbeOptions, ProbeEvents, DropCounts } from './probes';
export { launch } from './launch';
export type { LaunchOptions, Launched } from './launch';
export { decodeBatch } from './sources/bpf/decode';
export { ProcSource } from './sources/proc/source';
