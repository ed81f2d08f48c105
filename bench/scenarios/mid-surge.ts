/**
 * A gateway instance that starts in the middle of a surge: the restart and scale-out scenarios.
 * us-east runs at normal load, then at 12x; a few seconds into the surge a second Floodgate starts
 * with the same config. Once it is ready, the load (spread per request, like an L7 balancer) moves
 * to it and the first is killed (restart), or is spread over both (scale-out). Does the new
 * instance see the surge it was born into, and do us-east's users notice the change?
 */
import { performance } from 'node:perf_hooks';
import { pollRegions, type RegionSample } from '../admin-poller.js';
import { type RunningFloodgate, startFloodgate } from '../floodgate.js';
import type { FloodgateConfig } from '../floodgate-config.js';
import { type LoadPhase, type OpenLoopResult, runOpenLoop } from '../open-loop.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import { sleep } from '../processes.js';
import { formatNumber, formatPercent, type ScenarioContext, type Table } from '../scenario.js';
import { addCounts, emptyCounts, goodAnswers, type OutcomeCounts, ratio } from '../tally.js';
import { startUpstreams } from '../upstreams.js';
import { backendLagWarnings, offeredShortfallWarnings } from '../validity.js';
import {
  backendSpecs,
  CLIENT_TIMEOUT_MS,
  criticalSuccess,
  REGION_RPS,
  regionKinds,
  regionTotals,
  siteRates,
  siteStreams,
  streamName,
} from './video-site.js';

export const REGIONS = ['us-east', 'us-west'] as const;
export const SURGING = 'us-east';
const NORMAL_LOAD = 0.6;
const SURGE_LOAD = 12;
const POLL_MS = 250;

export interface MidSurgeTiming {
  phases: LoadPhase[];
  /** When the second instance is started, from the start of the run. */
  joinAtMs: number;
}

export function midSurgeTiming(quick: boolean): MidSurgeTiming {
  // Quick runs still leave the newcomer several seconds of surge: a busy machine can take 3 s to start one.
  const [normal, surge, after, joinInto] = quick ? [1, 7, 0.5, 1] : [3, 10, 2, 3];
  const rates = (east: number) =>
    siteRates({ 'us-east': east * REGION_RPS, 'us-west': NORMAL_LOAD * REGION_RPS });
  const phases = [
    { name: 'normal', durationMs: normal * 1000, rates: rates(NORMAL_LOAD) },
    { name: `us-east ${SURGE_LOAD}x`, durationMs: surge * 1000, rates: rates(SURGE_LOAD) },
    { name: 'after', durationMs: after * 1000, rates: rates(NORMAL_LOAD) },
  ];
  return { phases, joinAtMs: (normal + joinInto) * 1000 };
}

export interface MidSurgeRun {
  load: OpenLoopResult;
  /** From the start of the run: when the second instance was started and when it was ready. */
  joinStartedMs: number;
  joinReadyMs: number;
  /** From the second instance's start: its first admin sample saying us-east surges (null: never). */
  surgeSeenAfterStartMs: number | null;
  /** us-east's baseline (req/s) in the two instances' first samples after the join. */
  firstBaselineRps: number | null;
  secondBaselineRps: number | null;
  /** Requests the first instance still held when it was killed (restart only): they fail. */
  lostAtKill: OutcomeCounts;
  lostVideoAtKill: number;
}

/** Runs the load, starts the second instance at `joinAtMs`, and then kills the first or keeps both. */
export async function runMidSurge(
  context: ScenarioContext,
  configFor: (upstreams: RegionUpstreams) => FloodgateConfig,
  mode: 'restart' | 'scale-out',
  notes: string[],
): Promise<MidSurgeRun> {
  const { phases, joinAtMs } = midSurgeTiming(context.quick);
  const host = await startUpstreams(backendSpecs(REGIONS));
  const running: RunningFloodgate[] = [];
  try {
    const upstreams = Object.fromEntries(REGIONS.map((region) => [region, [host.urlOf(region)]]));
    const config = configFor(upstreams);
    const first = await startFloodgate(config, 'first');
    running.push(first);
    let targets: readonly string[] = [first.url];
    const firstPoller = pollRegions(first, POLL_MS);
    const start = performance.now();
    const loading = runOpenLoop({
      url: first.url,
      targets: () => targets,
      streams: siteStreams(REGIONS),
      phases,
      timeoutMs: CLIENT_TIMEOUT_MS,
      bucketMs: 500,
      onSecond: (s) =>
        context.progress.update(s.elapsedMs, s.totalMs, `${s.phase}: sent ${s.sent}/s, good ${s.good}/s`),
    });
    await sleep(joinAtMs);
    const joinStartedMs = performance.now() - start;
    const second = await startFloodgate(config, 'second');
    running.push(second);
    const joinReadyMs = performance.now() - start;
    const secondPoller = pollRegions(second, POLL_MS);
    if (mode === 'restart') {
      targets = [second.url];
      firstPoller.stop();
      await first.kill();
    } else targets = [first.url, second.url];
    const load = await loading;
    const firstSamples = firstPoller.stop();
    const secondSamples = secondPoller.stop();
    notes.push(
      ...offeredShortfallWarnings(mode, phases, load),
      ...backendLagWarnings(mode, await host.stats()),
    );
    const surgedAt = secondSamples.find((s) => s.regions[SURGING]?.surging)?.atMs;
    const lostAtKill = mode === 'restart' ? failedAt(load, first.url) : emptyCounts();
    return {
      load,
      joinStartedMs,
      joinReadyMs,
      surgeSeenAfterStartMs: surgedAt === undefined ? null : surgedAt + joinReadyMs - joinStartedMs,
      firstBaselineRps: baselineAfter(firstSamples, joinReadyMs - (firstSamples[0]?.atMs ?? 0)),
      secondBaselineRps: secondSamples[0]?.regions[SURGING]?.baselineRps ?? null,
      lostAtKill,
      lostVideoAtKill:
        mode === 'restart' ? failures(load.byTarget[first.url]?.[streamName(SURGING, 'video')]) : 0,
    };
  } finally {
    await Promise.all(running.map((floodgate) => floodgate.close()));
    await host.close();
  }
}

function failures(counts: OutcomeCounts | undefined): number {
  return counts === undefined ? 0 : counts.error + counts.timeout;
}

/** The failed requests (errors and timeouts) of every stream sent to one target. */
function failedAt(load: OpenLoopResult, url: string): OutcomeCounts {
  const total = emptyCounts();
  for (const counts of Object.values(load.byTarget[url] ?? {})) addCounts(total, counts);
  return { ...emptyCounts(), error: total.error, timeout: total.timeout };
}

function baselineAfter(samples: RegionSample[], atMs: number): number | null {
  return (
    samples.find((s) => s.atMs >= atMs)?.regions[SURGING]?.baselineRps ??
    samples.at(-1)?.regions[SURGING]?.baselineRps ??
    null
  );
}

/** us-east by phase: what its users got across the change of instances. */
export function surgingRegionTable(run: MidSurgeRun, title: string): Table {
  return {
    title,
    columns: [
      'phase',
      'sent',
      'critical success',
      'likes good',
      'zeros',
      'notifications good',
      'shed',
      'errors',
      'timeouts',
    ],
    rows: run.load.phases.map((phase) => {
      const kinds = regionKinds(phase.streams, SURGING);
      const total = regionTotals(phase.streams, SURGING);
      return [
        phase.name,
        total.sent,
        formatPercent(criticalSuccess(kinds.video, phase.durationMs)),
        formatPercent(ratio(goodAnswers(kinds.likes), kinds.likes.sent)),
        total.zero,
        formatPercent(ratio(goodAnswers(kinds.notifications), kinds.notifications.sent)),
        total.shed,
        total.error,
        total.timeout,
      ];
    }),
  };
}

/** Critical success over the whole surge phase, counting the video requests lost at a kill apart. */
export function surgeCriticalSuccess(run: MidSurgeRun): { raw: number; excludingKill: number } {
  const surge = run.load.phases[1]!;
  const video = regionKinds(surge.streams, SURGING).video;
  const promised = Math.min(video.sent, (REGION_RPS * surge.durationMs) / 1000);
  return {
    raw: criticalSuccess(video, surge.durationMs),
    excludingKill: ratio(video.ok, promised - run.lostVideoAtKill),
  };
}

/** The new instance: when it started and saw the surge, and what it took for us-east's baseline. */
export function joinTable(run: MidSurgeRun, what: string): Table {
  const show = (value: number | null) => (value === null ? '-' : formatNumber(value));
  const success = surgeCriticalSuccess(run);
  return {
    title: `${what}: the new instance`,
    columns: [
      'started at ms',
      'ready after ms',
      'surge reported after start ms',
      'its first baseline req/s',
      'old instance baseline req/s',
      'critical success (surge phase)',
      'excluding lost at kill',
      'lost at kill',
    ],
    rows: [
      [
        formatNumber(run.joinStartedMs),
        formatNumber(run.joinReadyMs - run.joinStartedMs),
        show(run.surgeSeenAfterStartMs),
        show(run.secondBaselineRps),
        show(run.firstBaselineRps),
        formatPercent(success.raw),
        formatPercent(success.excludingKill),
        run.lostAtKill.error + run.lostAtKill.timeout,
      ],
    ],
  };
}
