import type { ProcessSample } from './soak-gateway.js';
import type { TrafficCounts } from './soak-traffic.js';

export interface SoakSample extends ProcessSample {
  atMs: number;
  /** In-flight requests summed over regions, from the admin view. */
  inflight: number | undefined;
  /** Client-side latency of the answers since the previous sample. */
  p50Ms: number;
  p99Ms: number;
  /** The machine's one-minute load average: a busy machine explains latency peaks. */
  loadAverage: number;
}

export interface GrowthCheck {
  metric: string;
  /** The lowest sample of each window after warm-up, in order. */
  floors: number[];
  growthPct: number;
  grew: boolean;
}

export interface Verdict {
  ok: boolean;
  failures: string[];
  /** Empty when the run was too short to tell growth from warm-up. */
  growth: GrowthCheck[];
  growthJudged: boolean;
}

export interface VerdictInput {
  samples: SoakSample[];
  warmUpMs: number;
  windowMs: number;
  traffic: TrafficCounts;
  failedReloads: number;
  /** Requests in flight (regions and upstreams) once traffic stopped and drained: must be 0. */
  inflightAfterDrain: number | undefined;
  /** Open descriptors before any traffic, and once pooled connections have idled out after it. */
  fdsBefore: number | undefined;
  fdsAfterIdle: number | undefined;
  gatewayExit: string | undefined;
}

const MIB = 1024 * 1024;
/** Memory growth limits: a share of the first window's floor, and a margin below which noise is not a trend. */
const MEMORY_LIMITS: { metric: 'rssBytes' | 'heapUsedBytes'; limitPct: number; margin: number }[] = [
  { metric: 'rssBytes', limitPct: 10, margin: 4 * MIB },
  // Sampled without forcing a collection, the heap moves by several MiB between major collections.
  { metric: 'heapUsedBytes', limitPct: 10, margin: 16 * MIB },
];
/** Descriptors a gateway may still hold after idling, beyond what it held before traffic. */
const FD_MARGIN = 16;
/** Growth is only judged with at least this much run after warm-up, and two whole windows in it. */
const MIN_JUDGED_MS = 60_000;

/**
 * The run fails on any lost, corrupted or unexpected answer, a failed reload, anything left in
 * flight, descriptors not given back once connections idle out, or memory that keeps growing.
 *
 * Memory: the run after warm-up is cut into windows one schedule cycle long, so each holds the
 * same mix of faults, surges and reloads, and each window's floor (its lowest sample) is taken. A
 * leak raises every floor in turn; a burst of load, a busy machine or a collection that has not
 * run yet only raises peaks. So memory "keeps growing" when the floors rise window after window
 * and the last is more than the limit above the first.
 *
 * Descriptors and in-flight counts follow latency while traffic runs (more concurrent requests,
 * more connections), so they are judged exactly once traffic has stopped instead.
 */
export function judgeSoak(input: VerdictInput): Verdict {
  const failures = accountingFailures(input);
  const last = input.samples.at(-1)?.atMs ?? 0;
  const growthJudged = last - input.warmUpMs >= Math.max(MIN_JUDGED_MS, 2 * input.windowMs);
  const growth: GrowthCheck[] = [];
  if (growthJudged) {
    const windows = windowsOf(input.samples, input.warmUpMs, input.windowMs);
    for (const { metric, limitPct, margin } of MEMORY_LIMITS) {
      const check = growthOf(metric, windows, limitPct, margin);
      if (check === undefined) continue;
      growth.push(check);
      if (check.grew) failures.push(`${metric} kept growing: +${check.growthPct.toFixed(1)}% after warm-up`);
    }
  }
  return { ok: failures.length === 0, failures, growth, growthJudged };
}

function accountingFailures(input: VerdictInput): string[] {
  const failures: string[] = [];
  const { traffic } = input;
  const ended = traffic.answered + traffic.cut + traffic.lost;
  if (ended !== traffic.sent) failures.push(`${traffic.sent} sent but ${ended} ended`);
  if (traffic.lost > 0)
    failures.push(`${traffic.lost} requests got no answer (${JSON.stringify(traffic.lostReasons)})`);
  if (traffic.corrupted > 0)
    failures.push(`${traffic.corrupted} bodies arrived corrupted or falsely complete`);
  if (traffic.unexpected > 0) failures.push(`${traffic.unexpected} answers had an unexpected status`);
  if (input.failedReloads > 0) failures.push(`${input.failedReloads} reloads failed`);
  if (input.inflightAfterDrain !== 0) failures.push(`in-flight after the drain: ${input.inflightAfterDrain}`);
  const { fdsBefore, fdsAfterIdle } = input;
  if (fdsBefore !== undefined && fdsAfterIdle !== undefined && fdsAfterIdle - fdsBefore > FD_MARGIN)
    failures.push(`descriptors not given back: ${fdsBefore} before traffic, ${fdsAfterIdle} after idling`);
  if (input.gatewayExit !== undefined) failures.push(`the gateway ${input.gatewayExit}`);
  return failures;
}

/** Consecutive windows of `windowMs` after warm-up; a last partial window counts when it is half full. */
function windowsOf(samples: SoakSample[], warmUpMs: number, windowMs: number): SoakSample[][] {
  const windows: SoakSample[][] = [];
  const last = samples.at(-1)?.atMs ?? 0;
  for (let start = warmUpMs; last - start >= windowMs / 2; start += windowMs) {
    windows.push(samples.filter((s) => s.atMs >= start && s.atMs < start + windowMs));
  }
  return windows.filter((w) => w.length > 0);
}

function growthOf(
  metric: 'rssBytes' | 'heapUsedBytes',
  windows: SoakSample[][],
  limitPct: number,
  margin: number,
): GrowthCheck | undefined {
  const floors = windows.flatMap((w) => {
    const values = w.flatMap((s) => (typeof s[metric] === 'number' ? [s[metric]] : []));
    return values.length === 0 ? [] : [Math.min(...values)];
  });
  if (floors.length < 2) return undefined;
  const first = floors[0]!;
  const delta = floors.at(-1)! - first;
  const growthPct = first > 0 ? (delta / first) * 100 : 0;
  const rising = floors.every((floor, i) => i === 0 || floor > floors[i - 1]!);
  return { metric, floors, growthPct, grew: rising && growthPct > limitPct && delta > margin };
}
