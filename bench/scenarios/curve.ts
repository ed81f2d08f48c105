import { lineChart } from '../../src/charts/svg-chart.js';
import { benchProcesses, cpuByPhase, sampleCpu } from '../cpu-sampler.js';
import { videoSiteConfig } from '../floodgate-config.js';
import { type OpenLoopResult, runOpenLoop } from '../open-loop.js';
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
import { goodAnswers, ratio } from '../tally.js';
import { floodgatePlan, measureTarget, noProtectionPlan, type TargetPlan } from '../targets.js';
import { startUpstreams } from '../upstreams.js';
import { backendLagWarnings, offeredShortfallWarnings, saturationWarnings } from '../validity.js';
import {
  BACKEND_CEILING_RPS,
  backendSpecs,
  CLIENT_TIMEOUT_MS,
  REGION_RPS,
  regionKinds,
  regionTotals,
  siteRates,
  siteRegionConfig,
  siteStreams,
} from './video-site.js';

const REGION = 'us-east';

/** One region; the surge detector only reports here, so each point measures the steady-state limits. */
function curveConfig(upstreams: RegionUpstreams) {
  return videoSiteConfig(
    { [REGION]: siteRegionConfig(upstreams[REGION] ?? []) },
    { surge: { factor: 2, halfLifeMs: 60_000, minRps: 10 } },
  );
}

interface CurvePoint {
  target: string;
  multiple: number;
  offeredRps: number;
  goodputRps: number;
  success: number;
  zeros: number;
  timeouts: number;
  shed: number;
  videoP99Ms: number;
  videoGoodRps: number;
  /** CPU of the proxy while measuring, in % of one core. */
  proxyCpu: number;
}

/** Goodput and latency as offered load climbs from half the region's capacity to ten times it. */
export const curveScenario: Scenario = {
  name: 'curve',
  title: 'Goodput against offered load',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const multiples = context.quick ? [0.5, 8] : [0.5, 1, 2, 4, 10];
    const warmupMs = context.quick ? 200 : 1000;
    const durationMs = context.quick ? 800 : 3000;
    const plans: TargetPlan[] = [noProtectionPlan(), floodgatePlan(curveConfig)];
    const notes: string[] = [];
    const points: CurvePoint[] = [];
    for (const plan of plans) {
      for (const multiple of multiples) {
        const host = await startUpstreams(backendSpecs([REGION]));
        try {
          context.progress.startPhase(`${plan.name} at ${multiple}x`);
          const rates = siteRates({ [REGION]: multiple * REGION_RPS });
          const point = await measureTarget(plan, { [REGION]: host.urls }, notes, async (target) => {
            const cpu = sampleCpu(benchProcesses(host.pids, target.pid), 500);
            const phases = [
              { name: 'warm-up', durationMs: warmupMs, rates },
              { name: `${multiple}x`, durationMs, rates },
            ];
            const load = await runOpenLoop({
              url: target.url,
              streams: siteStreams([REGION]),
              phases,
              timeoutMs: CLIENT_TIMEOUT_MS,
              onSecond: (s) =>
                context.progress.update(s.elapsedMs, s.totalMs, `sent ${s.sent}/s, good ${s.good}/s`),
            });
            const usage = cpuByPhase(cpu.stop(), load.phases).at(-1);
            notes.push(
              ...offeredShortfallWarnings(plan.name, phases, load),
              ...backendLagWarnings(`${plan.name} at ${multiple}x`, await host.stats()),
            );
            if (usage) notes.push(...saturationWarnings(`${plan.name} at ${multiple}x`, [usage]));
            return curvePoint(plan.name, multiple, load, usage?.proxy ?? 0);
          });
          if (point) points.push(point);
        } finally {
          await host.close();
        }
      }
    }
    return {
      data: { region: REGION, regionRps: REGION_RPS, durationMs, clientTimeoutMs: CLIENT_TIMEOUT_MS, points },
      tables: [curveTable(points)],
      charts: curveCharts(points),
      notes: [
        `One region provisioned for ${REGION_RPS} req/s, offered ${multiples.join('x, ')}x of that for ${durationMs / 1000} s per point after ${warmupMs / 1000} s at the same rate, each point on a fresh backend and proxy.`,
        `Floodgate admits about the configured ${REGION_RPS} req/s (plus its burst) even where the backend could do ${BACKEND_CEILING_RPS}: the configured rate, not the backend's ceiling, bounds its goodput.`,
        'Goodput counts correct answers (fresh or stale) per second; p99 is over fresh, correct video answers.',
        ...notes,
      ],
    };
  },
};

function curvePoint(target: string, multiple: number, load: OpenLoopResult, proxyCpu: number): CurvePoint {
  const phase = load.phases[load.phases.length - 1]!;
  const seconds = phase.durationMs / 1000;
  const total = regionTotals(phase.streams, REGION);
  const video = regionKinds(phase.streams, REGION).video;
  return {
    target,
    multiple,
    offeredRps: total.sent / seconds,
    goodputRps: goodAnswers(total) / seconds,
    success: ratio(goodAnswers(total), total.sent),
    zeros: total.zero,
    timeouts: total.timeout,
    shed: total.shed,
    videoP99Ms: video.latencyMs.p99,
    videoGoodRps: video.ok / seconds,
    proxyCpu,
  };
}

function curveTable(points: CurvePoint[]): Table {
  return {
    title: 'Goodput and latency by offered load',
    columns: [
      'target',
      'offered',
      'offered/s',
      'goodput/s',
      'video good/s',
      'success',
      'video p99 ms',
      'zeros',
      'shed',
      'timeouts',
      'proxy CPU %',
    ],
    rows: points.map((point) => [
      point.target,
      `${point.multiple}x`,
      formatNumber(point.offeredRps),
      formatNumber(point.goodputRps),
      formatNumber(point.videoGoodRps),
      formatPercent(point.success),
      formatNumber(point.videoP99Ms),
      point.zeros,
      point.shed,
      point.timeouts,
      point.proxyCpu,
    ]),
  };
}

function curveCharts(points: CurvePoint[]): Chart[] {
  const targets = [...new Set(points.map((point) => point.target))];
  const seriesOf = (value: (point: CurvePoint) => number) =>
    targets.map((target) => ({
      name: target,
      points: points
        .filter((p) => p.target === target)
        .map((p): [number, number] => [p.offeredRps, value(p)]),
    }));
  return [
    {
      name: 'goodput',
      title: 'Goodput against offered load',
      svg: lineChart({
        title: 'Goodput against offered load',
        xLabel: 'offered requests/s',
        yLabel: 'correct answers/s',
        series: seriesOf((p) => p.goodputRps),
      }),
    },
    {
      name: 'p99',
      title: 'Video p99 against offered load',
      svg: lineChart({
        title: 'Video p99 latency against offered load',
        xLabel: 'offered requests/s',
        yLabel: 'p99 of correct video answers (ms)',
        series: seriesOf((p) => p.videoP99Ms),
      }),
    },
  ];
}
