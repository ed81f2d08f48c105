import { lineChart } from '../../src/charts/svg-chart.js';
import { pollRegions, type RegionSample } from '../admin-poller.js';
import { regionConfig, videoSiteConfig } from '../floodgate-config.js';
import { type LoadPhase, type OpenLoopResult, runOpenLoop, type TimelineSlice } from '../open-loop.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import {
  type Chart,
  formatNumber,
  formatPercent,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
  type Table,
} from '../scenario.js';
import { goodAnswers, type OutcomeCounts, ratio } from '../tally.js';
import { floodgatePlan, measureTarget, noProtectionPlan, type TargetPlan } from '../targets.js';
import { startUpstreams, type UpstreamHost } from '../upstreams.js';
import { backendLagWarnings, offeredShortfallWarnings } from '../validity.js';
import {
  backendSpecs,
  CLIENT_TIMEOUT_MS,
  phaseMarkers,
  REGION_BURST,
  REGION_RPS,
  regionKinds,
  regionTotals,
  siteRates,
  siteStreams,
  sliceMiddleSeconds,
  UPSTREAM_TIMEOUT_MS,
} from './video-site.js';

const REGIONS = ['us-east', 'us-west'] as const;
const FAILING = 'us-east';
const FAILING_BACKENDS = ['east-1', 'east-2'];
const LOAD = 0.4;
/** us-west's own users keep it at 60% of its capacity, so failover has only 40% to spare. */
const WEST_LOAD = 0.6;
/** Timeline resolution: fine enough to time a failover, coarse enough to hold a few requests. */
const SLICE_MS = 500;

function outagePhases(quick: boolean): LoadPhase[] {
  const seconds = quick ? [0.7, 1.5, 2] : [3, 6, 6];
  const rates = siteRates({ 'us-east': LOAD * REGION_RPS, 'us-west': WEST_LOAD * REGION_RPS });
  return ['healthy', 'us-east down', 'recovered'].map((name, index) => ({
    name,
    durationMs: seconds[index]! * 1000,
    rates,
  }));
}

/** us-east fails over to us-west; the breaker probes again after one second. */
function outageConfig(upstreams: RegionUpstreams) {
  const sizing = { rps: REGION_RPS, burst: REGION_BURST, maxConcurrent: 12, timeoutMs: UPSTREAM_TIMEOUT_MS };
  const east = regionConfig([...(upstreams['us-east'] ?? [])], { ...sizing, failover: ['us-west'] });
  east.breaker = { errorThresholdPercentage: 50, volumeThreshold: 10, windowMs: 5000, resetTimeoutMs: 1000 };
  return videoSiteConfig({
    'us-east': east,
    'us-west': regionConfig([...(upstreams['us-west'] ?? [])], sizing),
  });
}

interface OutageRun {
  target: string;
  load: OpenLoopResult;
  breaker: RegionSample[];
  milestones: Record<string, number | null>;
}

/**
 * Both of us-east's backends stop accepting connections for a while, then come back. With a
 * breaker and failover, us-east's users should barely notice, and us-east should take its
 * traffic back once it is healthy.
 */
export const outageScenario: Scenario = {
  name: 'outage',
  title: 'Regional outage and recovery',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const phases = outagePhases(context.quick);
    const outageStartMs = phases[0]!.durationMs;
    const recoveryMs = outageStartMs + phases[1]!.durationMs;
    const plans: TargetPlan[] = [noProtectionPlan(), floodgatePlan(outageConfig)];
    const notes: string[] = [];
    const runs: OutageRun[] = [];
    for (const plan of plans) {
      const host = await startUpstreams(backendSpecs([...FAILING_BACKENDS, 'west-1']));
      try {
        const upstreams = {
          'us-east': FAILING_BACKENDS.map((name) => host.urlOf(name)),
          'us-west': [host.urlOf('west-1')],
        };
        context.progress.startPhase(plan.name);
        const run = await measureTarget(plan, upstreams, notes, async (target) => {
          const poller = pollRegions(target.floodgate, 250);
          const faults = scheduleFaults(host, outageStartMs, recoveryMs);
          const load = await runOpenLoop({
            url: target.url,
            streams: siteStreams(REGIONS),
            phases,
            timeoutMs: CLIENT_TIMEOUT_MS,
            bucketMs: SLICE_MS,
            onSecond: (s) =>
              context.progress.update(
                s.elapsedMs,
                s.totalMs,
                `${s.phase}: sent ${s.sent}/s, good ${s.good}/s`,
              ),
          });
          await faults;
          notes.push(
            ...offeredShortfallWarnings(plan.name, phases, load),
            ...backendLagWarnings(plan.name, await host.stats()),
          );
          const breaker = poller.stop();
          return {
            target: plan.name,
            load,
            breaker,
            milestones: milestones(load, breaker, outageStartMs, recoveryMs),
          };
        });
        if (run) runs.push(run);
      } finally {
        await host.close();
      }
    }
    return {
      data: {
        regions: REGIONS,
        load: LOAD * REGION_RPS,
        westLoad: WEST_LOAD * REGION_RPS,
        outageStartMs,
        recoveryMs,
        phases,
        runs,
      },
      tables: [phaseTable(runs), westTable(runs), milestoneTable(runs)],
      charts: outageCharts(runs, phases),
      notes: [
        `us-east gets ${LOAD * REGION_RPS} req/s of the usual mix and us-west ${WEST_LOAD * REGION_RPS} (60% of its ${REGION_RPS}), so failover has 40% of us-west to spare, and us-west's own users must lose nothing to it. us-east's two backends refuse connections from ${outageStartMs / 1000} s to ${recoveryMs / 1000} s; us-east fails over to us-west.`,
        `Breaker milestones come from samples of /admin/regions every 250 ms; answer milestones from ${SLICE_MS} ms slices of requests, by send time (requests in flight when the backends went down fail too).`,
        ...notes,
      ],
    };
  },
};

async function scheduleFaults(host: UpstreamHost, downAtMs: number, upAtMs: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, downAtMs));
  await Promise.all(FAILING_BACKENDS.map((name) => host.setMode(name, 'down')));
  await new Promise((resolve) => setTimeout(resolve, upAtMs - downAtMs));
  await Promise.all(FAILING_BACKENDS.map((name) => host.setMode(name, 'healthy')));
}

function milestones(
  load: OpenLoopResult,
  samples: RegionSample[],
  outageStartMs: number,
  recoveryMs: number,
): Record<string, number | null> {
  const breakerAt = (state: string, afterMs: number) =>
    samples.find((sample) => sample.atMs >= afterMs && sample.regions[FAILING]?.breaker === state)?.atMs ??
    null;
  const firstSlice = (afterMs: number, test: (slice: TimelineSlice) => boolean) => {
    const found = load.timeline.find((slice) => slice.startMs >= afterMs && test(slice));
    return found ? found.startMs - afterMs : null;
  };
  const opened = breakerAt('open', outageStartMs);
  const closed = breakerAt('closed', recoveryMs);
  return {
    breakerOpenAfterMs: opened === null ? null : opened - outageStartMs,
    breakerClosedAfterRecoveryMs: closed === null ? null : closed - recoveryMs,
    firstFailoverAfterOutageMs: firstSlice(
      outageStartMs,
      (slice) => regionTotals(slice.streams, FAILING).failover > 0,
    ),
    healthyAgainAfterRecoveryMs: firstSlice(recoveryMs, (slice) => {
      const total = regionTotals(slice.streams, FAILING);
      return total.failover === 0 && total.sent > 0 && total.ok >= 0.9 * total.sent;
    }),
  };
}

function phaseTable(runs: OutageRun[]): Table {
  return {
    title: `${FAILING} users by phase`,
    columns: [
      'target',
      'phase',
      'sent',
      'good',
      'via failover',
      'stale',
      'errors',
      'shed',
      'timeouts',
      'us-west good',
    ],
    rows: runs.flatMap((run) =>
      run.load.phases.map((phase) => {
        const east = regionTotals(phase.streams, FAILING);
        const west = regionTotals(phase.streams, 'us-west');
        return [
          run.target,
          phase.name,
          east.sent,
          formatPercent(ratio(goodAnswers(east), east.sent)),
          east.failover,
          east.stale,
          east.error,
          east.shed,
          east.timeout,
          formatPercent(ratio(goodAnswers(west), west.sent)),
        ];
      }),
    ),
  };
}

/** us-west's own users by kind: the failover into their region must not cost them anything. */
function westTable(runs: OutageRun[]): Table {
  return {
    title: "us-west's own users by phase, while us-east fails over into it",
    columns: ['target', 'phase', 'sent', 'video good', 'likes good', 'notifications good', 'shed', 'errors'],
    rows: runs.flatMap((run) =>
      run.load.phases.map((phase) => {
        const kinds = regionKinds(phase.streams, 'us-west');
        const total = regionTotals(phase.streams, 'us-west');
        const good = (counts: OutcomeCounts) => formatPercent(ratio(goodAnswers(counts), counts.sent));
        return [
          run.target,
          phase.name,
          total.sent,
          good(kinds.video),
          good(kinds.likes),
          good(kinds.notifications),
          total.shed,
          total.error + total.timeout,
        ];
      }),
    ),
  };
}

function milestoneTable(runs: OutageRun[]): Table {
  const show = (value: number | null | undefined) =>
    value === null || value === undefined ? '-' : formatNumber(value);
  return {
    title: 'Recovery timeline (ms)',
    columns: [
      'target',
      'breaker open after',
      'first failover answer',
      'breaker closed after recovery',
      'us-east healthy again',
    ],
    rows: runs.map((run) => [
      run.target,
      show(run.milestones.breakerOpenAfterMs),
      show(run.milestones.firstFailoverAfterOutageMs),
      show(run.milestones.breakerClosedAfterRecoveryMs),
      show(run.milestones.healthyAgainAfterRecoveryMs),
    ]),
  };
}

function outageCharts(runs: OutageRun[], phases: LoadPhase[]): Chart[] {
  const series = runs.flatMap((run) => [
    {
      name: `good: ${run.target}`,
      points: run.load.timeline.map((e): [number, number] => {
        const total = regionTotals(e.streams, FAILING);
        return [sliceMiddleSeconds(e, run.load.bucketMs), ratio(goodAnswers(total), total.sent)];
      }),
    },
    {
      name: `failover: ${run.target}`,
      dashed: true,
      points: run.load.timeline.map((e): [number, number] => {
        const total = regionTotals(e.streams, FAILING);
        return [sliceMiddleSeconds(e, run.load.bucketMs), ratio(total.failover, total.sent)];
      }),
    },
  ]);
  return [
    {
      name: 'timeline',
      title: `${FAILING} answers during the outage`,
      svg: lineChart({
        title: `${FAILING} answers during the outage (${SLICE_MS} ms slices)`,
        xLabel: 'seconds',
        yLabel: 'share of requests',
        yMax: 1,
        markers: phaseMarkers(phases),
        series,
      }),
    },
  ];
}
