import { execFile } from 'node:child_process';
import { assertLoopback } from './loopback.js';
import { LOAD_CORE, onPath, pinningAvailable } from './processes.js';

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export function wrkAvailable(): boolean {
  return onPath('wrk') !== undefined;
}

/** A second opinion on closed-loop throughput from a load generator written in C. */
export function runWrk(url: string, connections: number, durationSec: number): Promise<WrkResult> {
  assertLoopback(url);
  const args = ['-t1', `-c${connections}`, `-d${durationSec}s`, '--latency', url];
  const [command, commandArgs] = pinningAvailable()
    ? ['taskset', ['-c', String(LOAD_CORE), 'wrk', ...args]]
    : ['wrk', args];
  return new Promise((resolve, reject) => {
    execFile(command, commandArgs, { timeout: (durationSec + 30) * 1000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(parseWrkOutput(stdout));
    });
  });
}

export function parseWrkOutput(output: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? Number.NaN);
  return { rps, p50Ms: latencyLine(output, '50%'), p99Ms: latencyLine(output, '99%') };
}

function latencyLine(output: string, label: string): number {
  const match = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  const unit = match[2];
  return unit === 'us' ? value / 1000 : unit === 's' ? value * 1000 : value;
}
