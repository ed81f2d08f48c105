import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Linux reports process times in clock ticks of 1/100 s. */
const MS_PER_TICK = 10;

export interface CpuSample {
  atMs: number;
  /** Cumulative CPU time in ms per labelled process. */
  cpuMs: Record<string, number>;
}

export interface CpuSampler {
  stop(): CpuSample[];
}

/**
 * Samples the CPU time of the load generator (this process), the backends and the proxy under
 * test while load runs. A run whose load generator or backends were near a full core measured
 * the bench, not the proxy, and its results say so.
 */
export function sampleCpu(pids: Record<string, number | undefined>, periodMs = 1000): CpuSampler {
  const start = performance.now();
  const samples: CpuSample[] = [];
  const take = () => {
    const cpuMs: Record<string, number> = { 'load generator': ownCpuMs() };
    for (const [label, pid] of Object.entries(pids)) {
      const used = pid === undefined ? undefined : processCpuMs(pid);
      if (used !== undefined) cpuMs[label] = used;
    }
    samples.push({ atMs: performance.now() - start, cpuMs });
  };
  take();
  const timer = setInterval(take, periodMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Average CPU use per process between two moments, in percent of one core. */
export function cpuPercent(samples: CpuSample[], fromMs: number, toMs: number): Record<string, number> {
  const first = samples.find((sample) => sample.atMs >= fromMs - 500) ?? samples[0];
  const last =
    [...samples].reverse().find((sample) => sample.atMs <= toMs + 500) ?? samples[samples.length - 1];
  if (!first || !last || last.atMs <= first.atMs) return {};
  const percent: Record<string, number> = {};
  for (const [label, used] of Object.entries(last.cpuMs)) {
    const before = first.cpuMs[label];
    if (before !== undefined) percent[label] = Math.round(((used - before) / (last.atMs - first.atMs)) * 100);
  }
  return percent;
}

function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** A process's CPU time so far (user and system), in ms; undefined once it has exited. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at the state field.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return undefined;
  }
}

export interface PhaseCpu {
  phase: string;
  loadGenerator: number;
  backends: number;
  proxy: number;
}

/** Per phase: CPU of this process, of all backends together and of the proxy, in % of one core. */
export function cpuByPhase(
  samples: CpuSample[],
  phases: ReadonlyArray<{ name: string; durationMs: number }>,
): PhaseCpu[] {
  let start = 0;
  return phases.map((phase) => {
    const percent = cpuPercent(samples, start, start + phase.durationMs);
    start += phase.durationMs;
    const backends = Object.entries(percent)
      .filter(([label]) => label.startsWith('backend '))
      .reduce((sum, [, value]) => sum + value, 0);
    return {
      phase: phase.name,
      loadGenerator: percent['load generator'] ?? 0,
      backends,
      proxy: percent.proxy ?? 0,
    };
  });
}

/** Labels the processes the way cpuByPhase groups them. */
export function benchProcesses(
  backendPids: Record<string, number | undefined>,
  proxyPid: number | undefined,
): Record<string, number | undefined> {
  const pids: Record<string, number | undefined> = { proxy: proxyPid };
  for (const [name, pid] of Object.entries(backendPids)) pids[`backend ${name}`] = pid;
  return pids;
}

/** What `work` resolved to, and the CPU time process `pid` used meanwhile (undefined without one). */
export async function withCpuOf<T>(
  pid: number | undefined,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: number | undefined }> {
  const before = pid === undefined ? undefined : processCpuMs(pid);
  const result = await work();
  const after = pid === undefined ? undefined : processCpuMs(pid);
  return { result, cpuMs: before === undefined || after === undefined ? undefined : after - before };
}

/** The CPU time of several runs together; undefined when any run's is unknown, or none was used. */
export function totalCpuMs(runs: readonly (number | undefined)[]): number | undefined {
  let total = 0;
  for (const ms of runs) {
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total > 0 ? total : undefined;
}
