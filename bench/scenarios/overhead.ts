import type { FloodgateConfig } from '../floodgate-config.js';
import { type ClosedLoopResult, closedLoopBudget, describeBudget, runClosedLoop } from '../load.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import {
  formatNumber,
  formatRatio,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
  type Table,
} from '../scenario.js';
import {
  directPlan,
  floodgatePlan,
  httpProxyPlan,
  measureTarget,
  nginxPlan,
  noProtectionPlan,
  type TargetPlan,
} from '../targets.js';
import { startUpstreams } from '../upstreams.js';
import { runWrk, type WrkResult, wrkAvailable } from '../wrk.js';

const CONNECTIONS = 50;

/**
 * Every protection is configured, none has reason to act: what a request pays for passing
 * through Floodgate on a normal day, next to the plain proxies it would replace.
 */
export function idleProtectionsConfig(upstreams: RegionUpstreams): FloodgateConfig {
  const origins = [...(upstreams.origin ?? [])];
  const roomy = { rps: 1_000_000, burst: 1_000_000, maxConcurrent: 10_000 };
  const breaker = {
    errorThresholdPercentage: 50,
    volumeThreshold: 20,
    windowMs: 10_000,
    resetTimeoutMs: 5000,
  };
  return {
    regions: {
      origin: { upstreams: origins, capacity: roomy, timeoutMs: 5000, breaker, failover: ['standby'] },
      standby: { upstreams: origins, capacity: roomy, timeoutMs: 5000, breaker },
    },
    routing: { header: 'x-region', default: 'origin' },
    routes: [{ match: { pathPrefix: '/small' }, priority: 'normal', staleCache: { ttlMs: 60_000 } }],
    clientLimit: { key: 'ip', rps: 1_000_000, burst: 1_000_000 },
    staleCache: { maxBytes: 16 * 1024 * 1024 },
    shedding: { mode: 'enforce', retryAfterSeconds: 1 },
    surge: { factor: 2, halfLifeMs: 600_000, minRps: 1_000_000, shedBelow: 'normal' },
  };
}

interface OverheadRow {
  target: string;
  load: ClosedLoopResult;
  wrk?: WrkResult;
}

export const overheadScenario: Scenario = {
  name: 'overhead',
  title: 'Per-request overhead with idle protections',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const budget = closedLoopBudget(context.quick, 'measure');
    const warmup = closedLoopBudget(context.quick, 'warm-up');
    const plans: TargetPlan[] = [
      directPlan(),
      floodgatePlan(idleProtectionsConfig),
      httpProxyPlan(),
      noProtectionPlan(),
      nginxPlan('nginx'),
    ];
    const notes: string[] = [];
    const rows: OverheadRow[] = [];
    const host = await startUpstreams([{ name: 'origin' }]);
    try {
      const upstreams = { origin: host.urls };
      for (const plan of plans) {
        context.progress.startPhase(plan.name);
        const row = await measureTarget(plan, upstreams, notes, async (target) => {
          await runClosedLoop({ url: target.url, path: '/small', connections: CONNECTIONS, ...warmup });
          let elapsed = 0;
          const load = await runClosedLoop({
            url: target.url,
            path: '/small',
            connections: CONNECTIONS,
            ...budget,
            onSecond: (responses) => {
              elapsed += 1000;
              context.progress.update(elapsed, budget.durationSec * 1000, `${formatNumber(responses)} req/s`);
            },
          });
          const wrk =
            wrkAvailable() && !context.quick
              ? await runWrk(`${target.url}/small`, CONNECTIONS, 5)
              : undefined;
          return { target: plan.name, load, ...(wrk ? { wrk } : {}) };
        });
        if (row) rows.push(row);
      }
    } finally {
      await host.close();
    }
    return {
      data: { connections: CONNECTIONS, budget, rows },
      tables: overheadTables(rows),
      charts: [],
      notes: [
        `${CONNECTIONS} keep-alive connections, GET /small (a tiny JSON answer with no queueing), ${describeBudget(budget)} per target after a warm-up of ${describeBudget(warmup)}.`,
        ...notes,
      ],
    };
  },
};

function overheadTables(rows: OverheadRow[]): Table[] {
  const direct = rows.find((row) => row.target === 'direct');
  const floodgate = rows.find((row) => row.target === 'floodgate');
  const tables: Table[] = [
    {
      title: 'Throughput and latency',
      columns: ['target', 'req/s', 'p50 ms', 'p99 ms', 'vs direct', 'non-2xx', 'errors'],
      rows: rows.map((row) => [
        row.target,
        formatNumber(row.load.rps),
        formatNumber(row.load.latencyMs.p50, 2),
        formatNumber(row.load.latencyMs.p99, 2),
        direct ? formatRatio(row.load.rps / direct.load.rps) : '-',
        nonSuccess(row.load),
        row.load.errors,
      ]),
    },
  ];
  if (floodgate) {
    tables.push({
      title: 'Floodgate against each peer',
      columns: ['peer', 'peer req/s', 'floodgate / peer', 'p99 difference ms'],
      rows: rows
        .filter((row) => row !== floodgate)
        .map((row) => [
          row.target,
          formatNumber(row.load.rps),
          formatRatio(floodgate.load.rps / row.load.rps),
          formatNumber(floodgate.load.latencyMs.p99 - row.load.latencyMs.p99, 2),
        ]),
    });
  }
  const checked = rows.filter((row) => row.wrk);
  if (checked.length > 0) {
    tables.push({
      title: 'Cross-check with wrk',
      columns: ['target', 'req/s', 'p50 ms', 'p99 ms'],
      rows: checked.map((row) => [
        row.target,
        formatNumber(row.wrk!.rps),
        formatNumber(row.wrk!.p50Ms, 2),
        formatNumber(row.wrk!.p99Ms, 2),
      ]),
    });
  }
  return tables;
}

function nonSuccess(load: ClosedLoopResult): number {
  return Object.entries(load.statuses)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
}
