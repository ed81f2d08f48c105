import { lineChart } from '../../src/charts/svg-chart.js';
import { pollRegions, type RegionSample } from '../admin-poller.js';
import { benchProcesses, cpuByPhase, type PhaseCpu, sampleCpu } from '../cpu-sampler.js';
import { type LoadPhase, type OpenLoopResult, runOpenLoop } from '../open-loop.js';
import {
  type Chart,
  formatNumber,
  formatPercent,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
  type Table,
} from '../scenario.js';
import type { SimulatorStats } from '../simulator.js';
import { goodAnswers, ratio } from '../tally.js';
import { floodgatePlan, measureTarget, nginxPlan, noProtectionPlan, type TargetPlan } from '../targets.js';
import { KINDS } from '../traffic-mix.js';
import { startUpstreams } from '../upstreams.js';
import { backendLagWarnings, offeredShortfallWarnings, saturationWarnings } from '../validity.js';
import {
  BACKEND_CEILING_RPS,
  backendSpecs,
  CLIENT_TIMEOUT_MS,
  criticalSuccess,
  goodputPerSecond,
  phaseMarkers,
  REGION_RPS,
  regionKinds,
  regionTotals,
  SUCCESS_LEGEND,
  siteFloodgateConfig,
  siteNginxProtections,
  siteRates,
  siteStreams,
  successOverTime,
} from './video-site.js';

const REGIONS = ['us-east', 'us-west', 'eu-west'] as const;
const SURGING = 'us-east';
/** us-east's own load outside its surge. */
const NORMAL_LOAD = 0.8;
/** The neighbours' load throughout: issue 14's "a region at 60% of its capacity loses nothing". */
const NEIGHBOUR_LOAD = 0.6;

function surgePhases(quick: boolean): LoadPhase[] {
  const seconds = quick ? [0.7, 0.9, 0.9, 0.6] : [4, 6, 6, 4];
  const usEast = [NORMAL_LOAD, 4, 12, NORMAL_LOAD];
  const names = ['normal', 'us-east 4x', 'us-east 12x', 'after'];
  return names.map((name, index) => ({
    name,
    durationMs: seconds[index]! * 1000,
    rates: siteRates({
      'us-east': usEast[index]! * REGION_RPS,
      'us-west': NEIGHBOUR_LOAD * REGION_RPS,
      'eu-west': NEIGHBOUR_LOAD * REGION_RPS,
    }),
  }));
}

interface SurgeRun {
  target: string;
  load: OpenLoopResult;
  backends: SimulatorStats[];
  floodgate: RegionSample[];
  cpu: PhaseCpu[];
}

/**
 * Three regions at normal load, then us-east at 4x and 12x its capacity with the whole traffic
 * mix scaled together. Does the surging region keep its critical traffic, and do the others
 * notice anything at all?
 */
export const surgeScenario: Scenario = {
  name: 'surge',
  title: 'Regional surge',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const phases = surgePhases(context.quick);
    const plans: TargetPlan[] = [
      noProtectionPlan(),
      nginxPlan('nginx limit_req + stale cache', siteNginxProtections(REGIONS)),
      floodgatePlan(siteFloodgateConfig),
    ];
    const notes: string[] = [];
    const runs: SurgeRun[] = [];
    for (const plan of plans) {
      const host = await startUpstreams(backendSpecs(REGIONS));
      try {
        const upstreams = Object.fromEntries(REGIONS.map((region) => [region, [host.urlOf(region)]]));
        context.progress.startPhase(plan.name);
        const run = await measureTarget(plan, upstreams, notes, async (target) => {
          const poller = pollRegions(target.floodgate);
          const cpu = sampleCpu(benchProcesses(host.pids, target.pid));
          const load = await runOpenLoop({
            url: target.url,
            streams: siteStreams(REGIONS),
            phases,
            timeoutMs: CLIENT_TIMEOUT_MS,
            onSecond: (s) =>
              context.progress.update(
                s.elapsedMs,
                s.totalMs,
                `${s.phase}: sent ${s.sent}/s, good ${s.good}/s`,
              ),
          });
          const usage = cpuByPhase(cpu.stop(), phases);
          const backends = await host.stats();
          notes.push(
            ...saturationWarnings(plan.name, usage),
            ...offeredShortfallWarnings(plan.name, phases, load),
            ...backendLagWarnings(plan.name, backends),
          );
          return {
            target: plan.name,
            load,
            backends,
            floodgate: poller.stop(),
            cpu: usage,
          };
        });
        if (run) runs.push(run);
      } finally {
        await host.close();
      }
    }
    return {
      data: { regions: REGIONS, regionRps: REGION_RPS, clientTimeoutMs: CLIENT_TIMEOUT_MS, phases, runs },
      tables: [surgingRegionTable(runs), otherRegionsTable(runs), cpuTable(runs)],
      charts: surgeCharts(runs, phases),
      notes: [
        `Each region is provisioned for ${REGION_RPS} req/s; its backend serves about ${BACKEND_CEILING_RPS} req/s at most. us-east's normal load is ${NORMAL_LOAD * REGION_RPS} req/s (${NORMAL_LOAD * 100}%); us-west and eu-west stay at ${NEIGHBOUR_LOAD * REGION_RPS} req/s (${NEIGHBOUR_LOAD * 100}%) throughout; the mix is 50% video (critical), 30% likes (normal, cacheable), 20% notifications (low), scaled together.`,
        'Critical success = fresh, correct video answers / min(video offered, provisioned rate x phase length); the burst can lift it slightly above 100%.',
        `Clients give up after ${CLIENT_TIMEOUT_MS} ms. Goodput counts correct answers, fresh or stale; a like count of 0 is counted as a zero, never as good.`,
        ...notes,
      ],
    };
  },
};

function surgingRegionTable(runs: SurgeRun[]): Table {
  return {
    title: `${SURGING} by phase`,
    columns: [
      'target',
      'phase',
      'offered/s',
      'goodput/s',
      'critical success',
      'video p99 ms',
      'likes good',
      'stale',
      'zeros',
      'notifications good',
      'shed',
      'timeouts',
    ],
    rows: runs.flatMap((run) =>
      run.load.phases.map((phase) => {
        const kinds = regionKinds(phase.streams, SURGING);
        const total = regionTotals(phase.streams, SURGING);
        return [
          run.target,
          phase.name,
          formatNumber(total.sent / (phase.durationMs / 1000)),
          formatNumber(goodputPerSecond(total, phase.durationMs)),
          formatPercent(criticalSuccess(kinds.video, phase.durationMs)),
          formatNumber(kinds.video.latencyMs.p99),
          formatPercent(ratio(goodAnswers(kinds.likes), kinds.likes.sent)),
          total.stale,
          total.zero,
          formatPercent(ratio(goodAnswers(kinds.notifications), kinds.notifications.sent)),
          total.shed,
          total.timeout,
        ];
      }),
    ),
  };
}

function otherRegionsTable(runs: SurgeRun[]): Table {
  const others = REGIONS.filter((region) => region !== SURGING);
  return {
    title: `${others.join(' and ')} (at ${NEIGHBOUR_LOAD * 100}% of capacity) while ${SURGING} surges`,
    columns: ['target', 'phase', 'region', 'good', 'video p99 ms', 'zeros', 'shed', 'timeouts'],
    rows: runs.flatMap((run) =>
      run.load.phases.flatMap((phase) =>
        others.map((region) => {
          const total = regionTotals(phase.streams, region);
          return [
            run.target,
            phase.name,
            region,
            formatPercent(ratio(goodAnswers(total), total.sent)),
            formatNumber(regionKinds(phase.streams, region).video.latencyMs.p99),
            total.zero,
            total.shed,
            total.timeout,
          ];
        }),
      ),
    ),
  };
}

function surgeCharts(runs: SurgeRun[], phases: LoadPhase[]): Chart[] {
  const markers = phaseMarkers(phases);
  return runs.map((run, index) => ({
    name: `success-${index + 1}`,
    title: `${SURGING} success by kind: ${run.target}`,
    svg: lineChart({
      title: `${SURGING} success by kind over time: ${run.target}`,
      xLabel: 'seconds',
      yLabel: 'success',
      yMax: 1,
      markers,
      series: KINDS.map((kind) => ({
        name: SUCCESS_LEGEND[kind],
        points: successOverTime(run.load, SURGING, kind),
      })),
    }),
  }));
}

function cpuTable(runs: SurgeRun[]): Table {
  return {
    title: 'CPU use by phase (% of one core)',
    columns: ['target', 'phase', 'proxy', 'load generator', 'backends'],
    rows: runs.flatMap((run) =>
      run.cpu.map((phase) => [run.target, phase.phase, phase.proxy, phase.loadGenerator, phase.backends]),
    ),
  };
}
