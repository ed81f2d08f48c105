// The dashboard's recent past, kept on the admin port: a bounded ring of one sample a second, so
// a page opened (or reloaded) in the middle of an incident draws the last five minutes at once
// instead of starting from empty charts. A sample holds only what the charts draw; the rates that
// the view carries as cumulative counts (upstream 5xx) are turned into rates here, once, from the
// change since the previous sample. The views come in already rounded for humans (region-feed.ts).

import type { StatusClass } from '../observability/metric-catalog.js';
import type { RegionView } from './admin-view.js';

/** Five minutes at one sample a second. */
export const HISTORY_POINTS = 300;

export interface RegionSample {
  admittedRps: number;
  shedRps: number;
  /** The configured capacity.rps, drawn beside admitted. */
  limitRps: number;
  currentRps: number;
  baselineRps: number;
  surging: boolean;
  /** Shed as a share of offered (admitted + shed), 0 to 1. */
  shedShare: number;
  upstream5xxRps: number;
  /** Upstream 5xx as a share of all upstream answers since the previous sample, 0 to 1. */
  upstream5xxShare: number;
}

export interface HistoryPoint {
  /** Unix milliseconds. */
  at: number;
  regions: Record<string, RegionSample>;
}

interface Previous {
  at: number;
  responses: Map<string, Record<StatusClass, number>>;
}

export class RegionHistory {
  private readonly ring: HistoryPoint[] = [];
  private next = 0;
  private previous: Previous | undefined;

  constructor(readonly capacity: number = HISTORY_POINTS) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  /** Adds the sample taken at `at` (dropping the oldest once full) and returns it. */
  record(at: number, regions: Record<string, RegionView>): HistoryPoint {
    const previous = this.previous;
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
    const point: HistoryPoint = { at, regions: {} };
    const responses = new Map<string, Record<StatusClass, number>>();
    for (const [name, view] of Object.entries(regions)) {
      const errors = upstreamErrors(view.upstreamResponses, previous?.responses.get(name));
      point.regions[name] = {
        admittedRps: view.admittedRps,
        shedRps: view.shedRps,
        limitRps: view.rps,
        currentRps: view.currentRps,
        baselineRps: view.baselineRps,
        surging: view.surging,
        shedShare: round4(share(view.shedRps, view.admittedRps + view.shedRps)),
        upstream5xxRps: seconds > 0 ? round4(errors.count / seconds) : 0,
        upstream5xxShare: round4(share(errors.count, errors.total)),
      };
      responses.set(name, view.upstreamResponses);
    }
    this.previous = { at, responses };
    if (this.ring.length < this.capacity) this.ring.push(point);
    else this.ring[this.next] = point;
    this.next = (this.next + 1) % this.capacity;
    return point;
  }

  /** Every kept sample, oldest first. */
  points(): HistoryPoint[] {
    if (this.ring.length < this.capacity) return this.ring.slice();
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}

/** Upstream 5xx and all answers since `before`; a count lower than before means the region was recreated. */
function upstreamErrors(
  now: Record<StatusClass, number>,
  before: Record<StatusClass, number> | undefined,
): { count: number; total: number } {
  let total = 0;
  let count = 0;
  for (const key of Object.keys(now) as StatusClass[]) {
    const then = before?.[key] ?? 0;
    const delta = now[key] >= then ? now[key] - then : now[key];
    total += delta;
    if (key === '5xx') count = delta;
  }
  return before === undefined ? { count: 0, total: 0 } : { count, total };
}

function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
