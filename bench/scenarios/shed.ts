import type { FloodgateConfig } from '../floodgate-config.js';
import {
  type ClosedLoopOptions,
  type ClosedLoopResult,
  closedLoopBudget,
  describeBudget,
  runClosedLoop,
} from '../load.js';
import { startBare429 } from '../peers/node-peers.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import { mergeRounds, ROUNDS, roundBudget, roundOrder, roundRatios } from '../rounds.js';
import {
  formatNumber,
  formatPercent,
  formatRatio,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
} from '../scenario.js';
import { floodgatePlan, measureTarget, type TargetPlan } from '../targets.js';
import { startUpstreams } from '../upstreams.js';

const CONNECTIONS = 50;

/** Two regions on one backend: `open` has room to spare, `empty` has a bucket that never refills in time. */
function shedConfig(upstreams: RegionUpstreams): FloodgateConfig {
  const origins = [...(upstreams.origin ?? [])];
  return {
    regions: {
      open: { upstreams: origins, capacity: { rps: 1_000_000, burst: 1_000_000, maxConcurrent: 10_000 } },
      empty: { upstreams: origins, capacity: { rps: 1, burst: 1, maxConcurrent: 10_000 } },
    },
    routing: { header: 'x-region', default: 'open' },
    shedding: { mode: 'enforce', retryAfterSeconds: 1 },
  };
}

interface ShedKind {
  name: string;
  region: string | undefined;
  expectedStatus: number;
  rounds: ClosedLoopResult[];
}

interface ShedRow {
  target: string;
  load: ClosedLoopResult;
  expectedStatus: number;
}

/**
 * How cheap a refusal is. A gateway that sheds must answer "no" far faster than it forwards,
 * or shedding itself becomes the overload; a bare server answering 429 is the floor.
 */
export const shedScenario: Scenario = {
  name: 'shed',
  title: 'Cost of a shed answer',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const budget = closedLoopBudget(context.quick, 'measure');
    const warmup = closedLoopBudget(context.quick, 'warm-up');
    const notes: string[] = [];
    const host = await startUpstreams([{ name: 'origin' }]);
    const bare: TargetPlan = { name: 'bare node:http 429', start: () => startBare429() };
    const kinds: ShedKind[] = [
      { name: 'floodgate shedding (503)', region: 'empty', expectedStatus: 503, rounds: [] },
      { name: 'floodgate forwarding (200)', region: 'open', expectedStatus: 200, rounds: [] },
      { name: bare.name, region: undefined, expectedStatus: 429, rounds: [] },
    ];
    const [shed, forwarded, floor] = kinds as [ShedKind, ShedKind, ShedKind];
    const run = async (
      kind: ShedKind,
      url: string,
      options: Pick<ClosedLoopOptions, 'durationSec' | 'amount'>,
    ) => {
      const headers: Record<string, string> = kind.region ? { 'x-region': kind.region } : {};
      return runClosedLoop({ url, path: '/small', headers, connections: CONNECTIONS, ...options });
    };
    try {
      const upstreams = { origin: host.urls };
      // Both servers run throughout (on the proxy core) and take turns, so each ratio compares two
      // answers measured within seconds of each other.
      await measureTarget(floodgatePlan(shedConfig), upstreams, notes, (gateway) =>
        measureTarget(bare, upstreams, notes, async (bareTarget) => {
          const urlOf = (kind: ShedKind) => (kind === floor ? bareTarget.url : gateway.url);
          context.progress.startPhase('warm-up');
          for (const kind of kinds) await run(kind, urlOf(kind), warmup);
          for (let round = 0; round < ROUNDS; round++) {
            context.progress.startPhase(`round ${round + 1} of ${ROUNDS}`);
            for (const kind of roundOrder(kinds, round))
              kind.rounds.push(await run(kind, urlOf(kind), roundBudget(budget)));
          }
        }),
      );
    } finally {
      await host.close();
    }
    const measured = kinds.filter((kind) => kind.rounds.length === ROUNDS);
    const rows: ShedRow[] = measured.map((kind) => ({
      target: kind.name,
      load: mergeRounds(kind.rounds),
      expectedStatus: kind.expectedStatus,
    }));
    const ratio = (a: ShedKind, b: ShedKind) => {
      if (a.rounds.length !== ROUNDS || b.rounds.length !== ROUNDS) return ['-', '-'];
      const r = roundRatios(a.rounds, b.rounds);
      return [formatRatio(r.median), `${formatRatio(r.min)} - ${formatRatio(r.max)}`];
    };
    return {
      data: { connections: CONNECTIONS, budget, rows },
      tables: [
        {
          title: 'Answers per second by kind of answer',
          columns: ['target', 'answers/s', 'p50 ms', 'p99 ms', 'expected status share', 'errors'],
          rows: rows.map((row) => [
            row.target,
            formatNumber(row.load.rps),
            formatNumber(row.load.latencyMs.p50, 2),
            formatNumber(row.load.latencyMs.p99, 2),
            formatPercent(
              (row.load.statuses[String(row.expectedStatus)] ?? 0) / Math.max(1, row.load.requests),
            ),
            row.load.errors,
          ]),
        },
        {
          title: 'Shed answers compared',
          columns: ['comparison', 'median of rounds', 'range'],
          rows: [
            ['floodgate shed / floodgate forwarded', ...ratio(shed, forwarded)],
            ['floodgate shed / bare 429', ...ratio(shed, floor)],
          ],
        },
      ],
      charts: [],
      notes: [
        `${CONNECTIONS} keep-alive connections, GET /small, ${describeBudget(budget)} per kind of answer in ${ROUNDS} rounds that take turns (the order alternating), after a warm-up; ratios are taken within each round. The shed region has rps 1 and burst 1, so nearly every request is refused before it reaches the backend.`,
        ...notes,
      ],
    };
  },
};
