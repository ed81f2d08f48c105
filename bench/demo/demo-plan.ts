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
export const DEFAULT_SECONDS = 33;
/** Longer than the gateway's upstream timeout, so a slow upstream shows as the gateway's 504. */
export const CLIENT_TIMEOUT_MS = 3000;

/**
 * 10 workers held ~38 ms each (24 ms of work after a ~12 ms counts lookup): about 260 requests/s.
 * The counts store (6 slots of ~12 ms) has room for every lookup the workers can start, so a zero
 * count here means a lookup waited past its deadline: the backend's machine stalled.
 */
export const DEMO_BACKEND: Omit<SimulatorOptions, 'name' | 'seed'> = {
  workers: 10,
  serviceMs: 24,
  countsCapacity: 6,
  countsServiceMs: 12,
  countsQueueLimit: 8,
  countsDeadlineMs: 150,
};

export type PhaseName = 'warm-up' | 'normal' | 'surge' | 'after';

// Normal traffic at first warms up connections and compiled code; the summary leaves it out. The
// phase after the surge is long enough for the surge flag to clear (a few seconds of calm).
const PHASE_SECONDS: ReadonlyArray<[PhaseName, number]> = [
  ['warm-up', 2],
  ['normal', 8],
  ['surge', 15],
  ['after', 8],
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
    phases: PHASE_SECONDS.map(([name, seconds]) => ({
      name,
      durationMs: Math.round((totalSeconds * seconds * 1000) / DEFAULT_SECONDS),
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
