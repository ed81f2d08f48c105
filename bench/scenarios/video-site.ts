/**
 * The simulated video site shared by the overload scenarios: regions with the same backend
 * sizing, the traffic mix, the configs Floodgate and nginx protect it with, and the per-kind
 * summaries the tables are built from.
 */
import type { FloodgateConfig, RegionConfig } from '../floodgate-config.js';
import { regionConfig, videoSiteConfig } from '../floodgate-config.js';
import type {
  LoadPhase,
  LoadStream,
  OpenLoopResult,
  StreamPhaseResult,
  TimelineSlice,
} from '../open-loop.js';
import type { NginxProtections } from '../peers/nginx.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import { addCounts, emptyCounts, goodAnswers, type OutcomeCounts, ratio } from '../tally.js';
import { KINDS, type Kind, TRAFFIC_MIX } from '../traffic-mix.js';
import type { SimulatorSpec } from '../upstream-host.js';

/** Requests per second each region is provisioned for (Floodgate's `capacity.rps`). */
export const REGION_RPS = 30;
export const REGION_BURST = 6;
/**
 * Each backend: 6 workers, each request holding one for a ~50 ms counts lookup plus ~65 ms of
 * work, serve about 50 requests/s (1.7x the provisioned rate). The counts store behind them (2
 * slots) answers zero once 3 lookups wait or one waits 130 ms, which starts to happen at about
 * 1.5x the provisioned rate. The rates are small on purpose: the load generator and the
 * backends share one core, and must never be what saturates, even at 12x.
 */
export const BACKEND: Omit<SimulatorSpec, 'name'> = {
  workers: 6,
  serviceMs: 65,
  countsCapacity: 2,
  countsServiceMs: 50,
  countsQueueLimit: 3,
  countsDeadlineMs: 130,
};
/** Measured: what one backend answers per second at most, with the traffic mix. */
export const BACKEND_CEILING_RPS = 50;
export const CLIENT_TIMEOUT_MS = 1500;
export const UPSTREAM_TIMEOUT_MS = 1000;

export function streamName(region: string, kind: Kind): string {
  return `${region}/${kind}`;
}

export function siteStreams(regions: readonly string[]): LoadStream[] {
  return regions.flatMap((region) => KINDS.map((kind) => ({ name: streamName(region, kind), region, kind })));
}

/** Splits each region's total offered rate over the kinds by the traffic mix. */
export function siteRates(totals: Record<string, number>): LoadPhase['rates'] {
  const rates: LoadPhase['rates'] = {};
  for (const [region, total] of Object.entries(totals)) {
    for (const kind of KINDS) rates[streamName(region, kind)] = total * TRAFFIC_MIX[kind];
  }
  return rates;
}

export function backendSpecs(names: readonly string[]): SimulatorSpec[] {
  return names.map((name) => ({ name, ...BACKEND }));
}

export function siteRegionConfig(upstreams: readonly string[], failover?: string[]): RegionConfig {
  return regionConfig([...upstreams], {
    rps: REGION_RPS,
    burst: REGION_BURST,
    maxConcurrent: 12,
    timeoutMs: UPSTREAM_TIMEOUT_MS,
    ...(failover ? { failover } : {}),
  });
}

/** Floodgate guarding every region the same way; notifications are shed first while a region surges. */
export function siteFloodgateConfig(upstreams: RegionUpstreams): FloodgateConfig {
  const regions: Record<string, RegionConfig> = {};
  for (const [region, origins] of Object.entries(upstreams)) regions[region] = siteRegionConfig(origins);
  return videoSiteConfig(regions, {
    surge: { factor: 2, halfLifeMs: 60_000, minRps: 10, shedBelow: 'normal' },
  });
}

export function siteNginxProtections(regions: readonly string[]): NginxProtections {
  return {
    limits: Object.fromEntries(regions.map((region) => [region, { rps: REGION_RPS, burst: REGION_BURST }])),
    staleCachePrefix: '/api/likes/',
    timeoutMs: UPSTREAM_TIMEOUT_MS,
  };
}

export type KindResults = Record<Kind, StreamPhaseResult>;

export function regionKinds(streams: Record<string, StreamPhaseResult>, region: string): KindResults {
  return Object.fromEntries(KINDS.map((kind) => [kind, streams[streamName(region, kind)]!])) as KindResults;
}

export function regionTotals(streams: Record<string, OutcomeCounts>, region: string): OutcomeCounts {
  const total = emptyCounts();
  for (const kind of KINDS) {
    const counts = streams[streamName(region, kind)];
    if (counts) addCounts(total, counts);
  }
  return total;
}

/**
 * Critical success: fresh, correct video answers over what the region promised to carry, i.e.
 * the offered video requests up to the region's configured rate for the phase.
 */
export function criticalSuccess(video: OutcomeCounts, phaseMs: number): number {
  const promised = Math.min(video.sent, (REGION_RPS * phaseMs) / 1000);
  return promised > 0 ? video.ok / promised : 0;
}

export function goodputPerSecond(counts: OutcomeCounts, phaseMs: number): number {
  return goodAnswers(counts) / (phaseMs / 1000);
}

/**
 * Success of one kind in one region per timeline slice, plotted at the middle of the slice. Video uses
 * the critical-success definition (fresh answers over what the region promised in the slice);
 * the other kinds, good answers over requests sent.
 */
export function successOverTime(load: OpenLoopResult, region: string, kind: Kind): Array<[number, number]> {
  return load.timeline.map((slice) => {
    const counts = slice.streams[streamName(region, kind)] ?? emptyCounts();
    const success =
      kind === 'video' ? criticalSuccess(counts, load.bucketMs) : ratio(goodAnswers(counts), counts.sent);
    return [sliceMiddleSeconds(slice, load.bucketMs), Math.min(1, success)];
  });
}

export function sliceMiddleSeconds(slice: TimelineSlice, bucketMs: number): number {
  return (slice.startMs + bucketMs / 2) / 1000;
}

export const SUCCESS_LEGEND: Record<Kind, string> = {
  video: `video: fresh / min(sent, ${REGION_RPS}/s)`,
  likes: 'likes: good / sent',
  notifications: 'notifications: good / sent',
};

/** Phase start times in seconds, for chart markers. */
export function phaseMarkers(phases: readonly LoadPhase[]): Array<{ x: number; label: string }> {
  let start = 0;
  return phases.map((phase) => {
    const marker = { x: start / 1000, label: phase.name };
    start += phase.durationMs;
    return marker;
  });
}
