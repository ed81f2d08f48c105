import type { UpstreamFault } from './soak-upstream.js';

export type SoakEvent =
  | { atMs: number; kind: 'reload' }
  | { atMs: number; kind: 'fault'; fault: UpstreamFault }
  | { atMs: number; kind: 'surge'; factor: number };

/** The faults in the order the cycles visit them. */
const FAULTS: UpstreamFault[] = ['error-500', 'hang', 'reset', 'slow'];
const SURGE_FACTOR = 2.5;

/** One cycle of events: the run repeats it, so the first and the last cycle after warm-up are comparable. */
export function cycleLengthMs(durationMs: number): number {
  return Math.min(60_000, Math.max(5_000, Math.round(durationMs / 4)));
}

/**
 * Each cycle reloads the config, breaks one of us-east's upstreams for a fifth of the cycle (the
 * fault kind rotates from cycle to cycle), surges us-east's traffic, and reloads again.
 */
export function soakSchedule(durationMs: number): SoakEvent[] {
  const cycle = cycleLengthMs(durationMs);
  const events: SoakEvent[] = [];
  for (let start = 0, n = 0; start < durationMs; start += cycle, n++) {
    const at = (fraction: number) => start + Math.round(cycle * fraction);
    events.push(
      { atMs: at(0.1), kind: 'reload' },
      { atMs: at(0.2), kind: 'fault', fault: FAULTS[n % FAULTS.length]! },
      { atMs: at(0.4), kind: 'fault', fault: 'ok' },
      { atMs: at(0.55), kind: 'surge', factor: SURGE_FACTOR },
      { atMs: at(0.7), kind: 'surge', factor: 1 },
      { atMs: at(0.85), kind: 'reload' },
    );
  }
  return events.filter((event) => event.atMs < durationMs);
}
