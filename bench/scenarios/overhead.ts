import { totalCpuMs, withCpuOf } from '../cpu-sampler.js';
import type { FloodgateConfig } from '../floodgate-config.js';
import { type ClosedLoopResult, closedLoopBudget, describeBudget, runClosedLoop } from '../load.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import { median, mergeRounds, ROUNDS, roundBudget, roundOrder, roundRatios } from '../rounds.js';
import {
  formatNumber,
  formatPercent,
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
  nginxPlan,
  noProtectionPlan,
  type StartedTarget,
  withTargets,
} from '../targets.js';
import { startUpstreams } from '../upstreams.js';
import { runWrk, type WrkResult, wrkAvailable } from '../wrk.js';

const CONNECTIONS = 50;
const WRK_SECONDS_PER_ROUND = 2;

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

/** One target's rounds: autocannon and wrk runs, each with the CPU time its process used. */
interface TargetRounds {
  target: string;
  load: ClosedLoopResult[];
  loadCpuMs: Array<number | undefined>;
  wrk: WrkResult[];
}

interface OverheadRow {
  target: string;
  load: ClosedLoopResult;
  /** Share of its core the target's process was busy under autocannon; undefined without a process. */
  proxyBusy?: number;
  /** Answers per CPU second of the target's process: its cost per request, whatever the client's speed. */
  perCpuSecond?: number;
  wrk?: WrkResult;
}

export const overheadScenario: Scenario = {
  name: 'overhead',
  title: 'Per-request overhead with idle protections',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const budget = closedLoopBudget(context.quick, 'measure');
    const warmup = closedLoopBudget(context.quick, 'warm-up');
    const plans = [
      directPlan(),
      floodgatePlan(idleProtectionsConfig),
      httpProxyPlan(),
      noProtectionPlan(),
      nginxPlan('nginx'),
    ];
    const notes: string[] = [];
    const useWrk = wrkAvailable() && !context.quick;
    const host = await startUpstreams([{ name: 'origin' }]);
    let measured: TargetRounds[] = [];
    try {
      // Every target runs throughout (idle until its turn), so each ratio compares two targets
      // measured within seconds of each other, round by round.
      measured = await withTargets(plans, { origin: host.urls }, notes, async (started) => {
        const rounds = started.map(({ name }) => ({ target: name, load: [], loadCpuMs: [], wrk: [] }));
        context.progress.startPhase('warm-up');
        for (const { target } of started)
          await runClosedLoop({ url: target.url, path: '/small', connections: CONNECTIONS, ...warmup });
        for (let round = 0; round < ROUNDS; round++) {
          context.progress.startPhase(`round ${round + 1} of ${ROUNDS}`);
          for (const i of roundOrder([...started.keys()], round))
            await measureRound(started[i]!, rounds[i]!, { budget: roundBudget(budget), useWrk });
        }
        return rounds;
      });
    } finally {
      await host.close();
    }
    const rows = measured.map(rowOf);
    return {
      data: { connections: CONNECTIONS, budget, rounds: ROUNDS, rows, measured },
      tables: overheadTables(rows, measured),
      charts: [],
      notes: [
        `${CONNECTIONS} keep-alive connections, GET /small (a tiny JSON answer with no queueing), ${describeBudget(budget)} of autocannon${useWrk ? ` and ${ROUNDS * WRK_SECONDS_PER_ROUND} s of wrk` : ''} per target in ${ROUNDS} rounds that take turns (the order alternating), after a warm-up of ${describeBudget(warmup)}; ratios are medians of the ratios within each round.`,
        'Proxy busy is the share of its core the target process used while autocannon ran: below about 95% the load generator, not the proxy, set the pace, and answers per CPU second is the fairer comparison.',
        ...notes,
      ],
    };
  },
};

async function measureRound(
  { target }: StartedTarget,
  rounds: TargetRounds,
  options: { budget: ReturnType<typeof roundBudget>; useWrk: boolean },
): Promise<void> {
  const load = await withCpuOf(target.pid, () =>
    runClosedLoop({ url: target.url, path: '/small', connections: CONNECTIONS, ...options.budget }),
  );
  rounds.load.push(load.result);
  rounds.loadCpuMs.push(load.cpuMs);
  if (options.useWrk)
    rounds.wrk.push(await runWrk(`${target.url}/small`, CONNECTIONS, WRK_SECONDS_PER_ROUND));
}

function rowOf(rounds: TargetRounds): OverheadRow {
  const load = mergeRounds(rounds.load);
  const row: OverheadRow = { target: rounds.target, load };
  const cpuMs = totalCpuMs(rounds.loadCpuMs);
  if (cpuMs !== undefined) {
    row.proxyBusy = cpuMs / (load.durationSec * 1000);
    row.perCpuSecond = load.requests / (cpuMs / 1000);
  }
  if (rounds.wrk.length > 0) row.wrk = mergeWrk(rounds.wrk);
  return row;
}

function mergeWrk(runs: readonly WrkResult[]): WrkResult {
  return {
    rps: runs.reduce((sum, run) => sum + run.rps, 0) / runs.length,
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
  };
}

function overheadTables(rows: OverheadRow[], measured: TargetRounds[]): Table[] {
  const direct = rows.find((row) => row.target === 'direct');
  const floodgate = measured.find((rounds) => rounds.target === 'floodgate');
  const floodgateRow = rows.find((row) => row.target === 'floodgate');
  const tables: Table[] = [
    {
      title: 'Throughput and latency (autocannon)',
      columns: [
        'target',
        'req/s',
        'p50 ms',
        'p99 ms',
        'vs direct',
        'proxy busy',
        'answers per proxy CPU s',
        'non-2xx',
        'errors',
      ],
      rows: rows.map((row) => [
        row.target,
        formatNumber(row.load.rps),
        formatNumber(row.load.latencyMs.p50, 2),
        formatNumber(row.load.latencyMs.p99, 2),
        direct ? formatRatio(row.load.rps / direct.load.rps) : '-',
        row.proxyBusy === undefined ? '-' : formatPercent(row.proxyBusy),
        row.perCpuSecond === undefined ? '-' : formatNumber(row.perCpuSecond),
        nonSuccess(row.load),
        row.load.errors,
      ]),
    },
  ];
  if (floodgate && floodgateRow) {
    const ratio = (mine: readonly { rps: number }[], theirs: readonly { rps: number }[]) => {
      if (mine.length !== ROUNDS || theirs.length !== ROUNDS) return ['-', '-'];
      const r = roundRatios(mine, theirs);
      return [formatRatio(r.median), `${formatRatio(r.min)} - ${formatRatio(r.max)}`];
    };
    tables.push({
      title: 'Floodgate against each peer (median of rounds, and range)',
      columns: ['peer', 'autocannon', 'range', 'wrk', 'range', 'by CPU per answer'],
      rows: measured
        .filter((rounds) => rounds !== floodgate)
        .map((rounds) => {
          const peer = rows.find((row) => row.target === rounds.target)!;
          const byCpu =
            peer.perCpuSecond && floodgateRow.perCpuSecond
              ? floodgateRow.perCpuSecond / peer.perCpuSecond
              : 0;
          return [
            rounds.target,
            ...ratio(floodgate.load, rounds.load),
            ...ratio(floodgate.wrk, rounds.wrk),
            formatRatio(byCpu),
          ];
        }),
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
