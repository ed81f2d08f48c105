import { performance } from 'node:perf_hooks';
import { type FloodgateConfig, regionConfig, videoSiteConfig } from '../floodgate-config.js';
import { type LoadPhase, type LoadStream, type OpenLoopResult, runOpenLoop } from '../open-loop.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import {
  formatNumber,
  formatRatio,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
  type Table,
} from '../scenario.js';
import { floodgatePlan, measureTarget, type Target } from '../targets.js';
import type { SimulatorSpec } from '../upstream-host.js';
import { startUpstreams, type UpstreamHost } from '../upstreams.js';
import { backendLagWarnings, offeredShortfallWarnings } from '../validity.js';

const REGION = 'us-east';
const STREAM: LoadStream = { name: `${REGION}/video`, region: REGION, kind: 'video' };
const WORKERS = 16;
const SERVICE_MS = 40;
const SLOWDOWN = 5;
/** What the backend serves at most at its normal service time. */
const NORMAL_CAPACITY_RPS = (WORKERS * 1000) / SERVICE_MS;
const OFFERED_RPS = 0.7 * NORMAL_CAPACITY_RPS;
/** Light enough that even the slowed backend (30% busy) barely queues: its unloaded latency. */
const LIGHT_RPS = (0.3 * NORMAL_CAPACITY_RPS) / SLOWDOWN;
/**
 * Sized for the normal backend: its full capacity with about 250 ms of queueing in flight. A
 * static cap cannot know that the same number means seconds of queueing once the backend slows.
 */
const MAX_CONCURRENT = 96;
/** The gateway's default floor: the adaptive limit never starves the region below it. */
const MIN_CONCURRENT = 8;
const UPSTREAM_TIMEOUT_MS = 4000;
const CLIENT_TIMEOUT_MS = 5000;
const ADMIN_POLL_MS = 250;

/** The counts store is made roomy so only the workers' service time decides latency here. */
const BACKEND: SimulatorSpec = {
  name: REGION,
  workers: WORKERS,
  serviceMs: SERVICE_MS,
  countsCapacity: 64,
  countsServiceMs: 2,
  countsQueueLimit: 256,
  countsDeadlineMs: 1000,
};

interface AdminRegion {
  inflightLimit: number;
  shed: Record<string, Record<string, number>>;
}

interface AdminSample {
  atMs: number;
  inflightLimit: number;
  /** Cumulative refusals by reason, summed over priorities. */
  shed: Record<string, number>;
}

interface PhaseRow {
  run: string;
  phase: string;
  serviceMs: number;
  sent: number;
  offeredRps: number;
  admittedRps: number;
  shedRps: number;
  shedByReason: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  inflightLimitMin: number;
  inflightLimitMax: number;
}

interface RunPlan {
  run: string;
  adaptive: boolean;
  phases: LoadPhase[];
  /** The service time switches to the slowed one when this many ms of load have passed. */
  slowAtMs: number;
}

function adaptiveConfig(adaptive: boolean) {
  return (upstreams: RegionUpstreams): FloodgateConfig => {
    const region = regionConfig([...(upstreams[REGION] ?? [])], {
      // The token bucket stays out of the way: only the in-flight cap is under test.
      rps: 10 * NORMAL_CAPACITY_RPS,
      burst: 10 * NORMAL_CAPACITY_RPS,
      maxConcurrent: MAX_CONCURRENT,
      timeoutMs: UPSTREAM_TIMEOUT_MS,
    });
    region.capacity.adaptive = adaptive;
    if (adaptive) region.capacity.minConcurrent = MIN_CONCURRENT;
    return videoSiteConfig({ [REGION]: region }, { surge: { factor: 100, halfLifeMs: 60_000, minRps: 10 } });
  };
}

function runPlans(quick: boolean): RunPlan[] {
  const light = quick ? 1000 : 5000;
  const [normalMs, settleMs, slowedMs] = quick ? [1500, 1500, 1500] : [6000, 6000, 10_000];
  const rates = { [STREAM.name]: OFFERED_RPS };
  const loaded = (run: string, adaptive: boolean): RunPlan => ({
    run,
    adaptive,
    slowAtMs: normalMs,
    phases: [
      { name: 'normal', durationMs: normalMs, rates },
      { name: 'slowed, settling', durationMs: settleMs, rates },
      { name: 'slowed', durationMs: slowedMs, rates },
    ],
  });
  return [
    {
      run: 'unloaded',
      adaptive: false,
      slowAtMs: light,
      phases: [
        { name: 'normal', durationMs: light, rates: { [STREAM.name]: LIGHT_RPS } },
        { name: 'slowed', durationMs: light, rates: { [STREAM.name]: LIGHT_RPS } },
      ],
    },
    loaded('static', false),
    loaded('adaptive', true),
  ];
}

/** A slowed backend under the same offered load: static in-flight cap against the adaptive one. */
export const adaptiveScenario: Scenario = {
  name: 'adaptive',
  title: 'Adaptive concurrency on a slowed backend',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const notes: string[] = [];
    const rows: PhaseRow[] = [];
    for (const plan of runPlans(context.quick)) {
      const host = await startUpstreams([BACKEND]);
      try {
        context.progress.startPhase(plan.run);
        const measured = await measureTarget(
          floodgatePlan(adaptiveConfig(plan.adaptive)),
          { [REGION]: host.urls },
          notes,
          (target) => measureRun(plan, host, target, context, notes),
        );
        if (measured) rows.push(...measured);
      } finally {
        await host.close();
      }
    }
    const unloaded = rowOf(rows, 'unloaded', 'slowed');
    const verdicts = verdictsOf(rows, unloaded?.p99Ms ?? 0);
    return {
      data: {
        region: REGION,
        backend: { workers: WORKERS, serviceMs: SERVICE_MS, slowedServiceMs: SERVICE_MS * SLOWDOWN },
        offeredRps: OFFERED_RPS,
        lightRps: LIGHT_RPS,
        maxConcurrent: MAX_CONCURRENT,
        minConcurrent: MIN_CONCURRENT,
        unloadedP99Ms: {
          normal: rowOf(rows, 'unloaded', 'normal')?.p99Ms ?? 0,
          slowed: unloaded?.p99Ms ?? 0,
        },
        rows,
        verdicts,
      },
      tables: [phaseTable(rows), ratioTable(verdicts)],
      charts: [],
      notes: [
        `One region, ${WORKERS} workers at ~${SERVICE_MS} ms (capacity ~${NORMAL_CAPACITY_RPS} req/s), offered ${OFFERED_RPS} req/s open loop; then the service time goes to ~${SERVICE_MS * SLOWDOWN} ms (capacity ~${NORMAL_CAPACITY_RPS / SLOWDOWN} req/s) under the same load. Each run on a fresh backend and Floodgate: static maxConcurrent ${MAX_CONCURRENT}, and adaptive with the same ceiling and minConcurrent ${MIN_CONCURRENT}.`,
        `"unloaded" is the same backend at ${LIGHT_RPS} req/s, before and after the slowdown. Latency is of fresh 200 answers, from when each request was due. "slowed, settling" is the first seconds after the slowdown, while the adaptive limit falls; "slowed" is the steady state after it.`,
        `Admitted requests still take the ${SLOWDOWN}x service time, so slowed p99 / normal p99 measures the slowdown as much as the limit; the 2x bound is against the slowed backend's own unloaded p99 (${formatNumber(unloaded?.p99Ms ?? 0)} ms): what queueing adds on top of the slowdown.`,
        ...verdicts.map((v) => v.sentence),
        ...notes,
      ],
    };
  },
};

async function measureRun(
  plan: RunPlan,
  host: UpstreamHost,
  target: Target,
  context: ScenarioContext,
  notes: string[],
): Promise<PhaseRow[]> {
  const samples: AdminSample[] = [];
  const start = performance.now();
  const poller = setInterval(() => {
    void sampleAdmin(target, start).then((sample) => sample && samples.push(sample));
  }, ADMIN_POLL_MS);
  const slowdown = setTimeout(() => {
    host.setServiceMs(SERVICE_MS * SLOWDOWN).catch((error: unknown) => {
      notes.push(`${plan.run}: could not slow the backend: ${String(error)}`);
    });
  }, plan.slowAtMs);
  try {
    const load = await runOpenLoop({
      url: target.url,
      streams: [STREAM],
      phases: plan.phases,
      timeoutMs: CLIENT_TIMEOUT_MS,
      onSecond: (s) => context.progress.update(s.elapsedMs, s.totalMs, `${s.phase}: sent ${s.sent}/s`),
    });
    const final = await sampleAdmin(target, start);
    if (final) samples.push(final);
    notes.push(
      ...offeredShortfallWarnings(plan.run, plan.phases, load),
      ...backendLagWarnings(plan.run, await host.stats()),
    );
    return phaseRows(plan, load, samples);
  } finally {
    clearInterval(poller);
    clearTimeout(slowdown);
  }
}

async function sampleAdmin(target: Target, start: number): Promise<AdminSample | undefined> {
  if (!target.floodgate) return undefined;
  try {
    const response = await fetch(`${target.floodgate.adminUrl}/admin/regions`);
    const body = (await response.json()) as { regions: Record<string, AdminRegion> };
    const region = body.regions[REGION];
    if (!region) return undefined;
    const shed: Record<string, number> = {};
    for (const [reason, byPriority] of Object.entries(region.shed ?? {})) {
      shed[reason] = Object.values(byPriority).reduce((sum, count) => sum + count, 0);
    }
    return { atMs: performance.now() - start, inflightLimit: region.inflightLimit, shed };
  } catch {
    return undefined;
  }
}

function phaseRows(plan: RunPlan, load: OpenLoopResult, samples: AdminSample[]): PhaseRow[] {
  let startMs = 0;
  return load.phases.map((phase, index) => {
    const endMs = startMs + phase.durationMs;
    const stream = phase.streams[STREAM.name]!;
    const seconds = phase.durationMs / 1000;
    const inPhase = samples.filter((s) => s.atMs >= startMs && s.atMs < endMs);
    const limits = inPhase.map((s) => s.inflightLimit);
    const before = samples.filter((s) => s.atMs < startMs).at(-1);
    const last = index === load.phases.length - 1 ? samples.at(-1) : inPhase.at(-1);
    startMs = endMs;
    return {
      run: plan.run,
      phase: phase.name,
      serviceMs: phase.name.startsWith('slowed') ? SERVICE_MS * SLOWDOWN : SERVICE_MS,
      sent: stream.sent,
      offeredRps: stream.sent / seconds,
      admittedRps: (stream.ok + stream.zero + stream.stale) / seconds,
      shedRps: stream.shed / seconds,
      shedByReason: shedBetween(before, last),
      p50Ms: stream.latencyMs.p50,
      p99Ms: stream.latencyMs.p99,
      inflightLimitMin: limits.length > 0 ? Math.min(...limits) : Number.NaN,
      inflightLimitMax: limits.length > 0 ? Math.max(...limits) : Number.NaN,
    };
  });
}

function shedBetween(
  before: AdminSample | undefined,
  after: AdminSample | undefined,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [reason, total] of Object.entries(after?.shed ?? {})) {
    const delta = total - (before?.shed[reason] ?? 0);
    if (delta > 0) counts[reason] = delta;
  }
  return counts;
}

function rowOf(rows: PhaseRow[], run: string, phase: string): PhaseRow | undefined {
  return rows.find((row) => row.run === run && row.phase === phase);
}

interface Verdict {
  run: string;
  normalP99Ms: number;
  slowedP99Ms: number;
  slowedOverNormal: number;
  slowedOverUnloaded: number;
  withinTwice: boolean;
  sentence: string;
}

function verdictsOf(rows: PhaseRow[], unloadedSlowedP99: number): Verdict[] {
  return ['static', 'adaptive'].flatMap((run) => {
    const normal = rowOf(rows, run, 'normal');
    const slowed = rowOf(rows, run, 'slowed');
    if (!normal || !slowed) return [];
    const slowedOverUnloaded = unloadedSlowedP99 > 0 ? slowed.p99Ms / unloadedSlowedP99 : Number.NaN;
    const withinTwice = slowedOverUnloaded <= 2;
    const expected = run === 'adaptive' ? withinTwice : !withinTwice;
    return [
      {
        run,
        normalP99Ms: normal.p99Ms,
        slowedP99Ms: slowed.p99Ms,
        slowedOverNormal: normal.p99Ms > 0 ? slowed.p99Ms / normal.p99Ms : Number.NaN,
        slowedOverUnloaded,
        withinTwice,
        sentence: `${run}: slowed p99 ${formatNumber(slowed.p99Ms)} ms is ${formatRatio(slowedOverUnloaded)} the slowed backend's unloaded p99, ${withinTwice ? 'within' : 'beyond'} 2x (${expected ? 'as claimed' : 'NOT as claimed'}); slowed / normal p99 ${formatRatio(slowed.p99Ms / normal.p99Ms)}.`,
      },
    ];
  });
}

function phaseTable(rows: PhaseRow[]): Table {
  return {
    title: 'Per run and phase',
    columns: [
      'run',
      'phase',
      'service ms',
      'offered/s',
      'admitted/s',
      'shed/s',
      'shed by reason',
      'p50 ms',
      'p99 ms',
      'inflight limit',
    ],
    rows: rows.map((row) => [
      row.run,
      row.phase,
      row.serviceMs,
      formatNumber(row.offeredRps),
      formatNumber(row.admittedRps),
      formatNumber(row.shedRps),
      Object.entries(row.shedByReason)
        .map(([reason, count]) => `${reason} ${count}`)
        .join(', ') || '-',
      formatNumber(row.p50Ms),
      formatNumber(row.p99Ms),
      Number.isFinite(row.inflightLimitMin)
        ? row.inflightLimitMin === row.inflightLimitMax
          ? row.inflightLimitMin
          : `${row.inflightLimitMin}-${row.inflightLimitMax}`
        : '-',
    ]),
  };
}

function ratioTable(verdicts: Verdict[]): Table {
  return {
    title: 'Slowed p99 against normal and unloaded p99',
    columns: [
      'run',
      'normal p99 ms',
      'slowed p99 ms',
      'slowed / normal',
      'slowed / unloaded slowed',
      'within 2x',
    ],
    rows: verdicts.map((v) => [
      v.run,
      formatNumber(v.normalP99Ms),
      formatNumber(v.slowedP99Ms),
      formatRatio(v.slowedOverNormal),
      formatRatio(v.slowedOverUnloaded),
      v.withinTwice ? 'yes' : 'no',
    ]),
  };
}
