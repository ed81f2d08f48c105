/**
 * The incident the demo replays, and the sizes that make it visible on a small machine: three
 * regions whose backends serve about 250 requests/s each, normal traffic at 100 requests/s per
 * region, then us-east's whole traffic mix at four times that while the other regions carry on.
 */
import type { LoadPhase, LoadStream } from '../open-loop.js';
import { siteRates, siteStreams } from '../scenarios/video-site.js';
import type { SimulatorOptions } from '../simulator.js';

export const DEMO_REGIONS = ['us-east', 'us-west', 'eu-west'] as const;
export const SURGING_REGION = 'us-east';
export const SURGE_FACTOR = 4;
/** Offered requests per second per region outside the surge: 40% of a backend's capacity. */
export const NORMAL_RPS = 100;
export const DEFAULT_SECONDS = 30;
/** Longer than the gateway's upstream timeout, so a slow upstream shows as the gateway's 504. */
export const CLIENT_TIMEOUT_MS = 3000;

/**
 * 10 workers held ~40 ms each (26 ms of work after a ~14 ms counts lookup): about 250 requests/s.
 * The counts store (4 slots of ~14 ms) keeps up with what the gateway admits, but not with an
 * unguarded surge, where it would start answering zeros.
 */
export const DEMO_BACKEND: Omit<SimulatorOptions, 'name' | 'seed'> = {
  workers: 10,
  serviceMs: 26,
  countsCapacity: 4,
  countsServiceMs: 14,
  countsQueueLimit: 8,
  countsDeadlineMs: 100,
};

export type PhaseName = 'normal' | 'surge' | 'after';

const PHASE_SHARES: ReadonlyArray<[PhaseName, number]> = [
  ['normal', 1 / 3],
  ['surge', 1 / 2],
  ['after', 1 / 6],
];

export interface DemoPlan {
  totalSeconds: number;
  streams: LoadStream[];
  phases: LoadPhase[];
}

export function demoPlan(totalSeconds: number): DemoPlan {
  const normal = Object.fromEntries(DEMO_REGIONS.map((region) => [region, NORMAL_RPS]));
  const surge = { ...normal, [SURGING_REGION]: NORMAL_RPS * SURGE_FACTOR };
  return {
    totalSeconds,
    streams: siteStreams(DEMO_REGIONS),
    phases: PHASE_SHARES.map(([name, share]) => ({
      name,
      durationMs: Math.round(totalSeconds * share * 1000),
      rates: siteRates(name === 'surge' ? surge : normal),
    })),
  };
}

/** The phase running `elapsedMs` into the load. */
export function phaseAt(phases: readonly LoadPhase[], elapsedMs: number): LoadPhase {
  let end = 0;
  for (const phase of phases) {
    end += phase.durationMs;
    if (elapsedMs < end) return phase;
  }
  return phases[phases.length - 1]!;
}

/** `--seconds N` wins over `DEMO_SECONDS`; without either the full replay runs. */
export function demoSeconds(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const index = argv.indexOf('--seconds');
  const given = index === -1 ? env.DEMO_SECONDS : argv[index + 1];
  if (given === undefined || given === '') return DEFAULT_SECONDS;
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds < 3 || seconds > 600) {
    throw new Error(`demo length must be a number of seconds between 3 and 600, got "${given}"`);
  }
  return seconds;
}
