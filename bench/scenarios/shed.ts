import { totalCpuMs, withCpuOf } from '../cpu-sampler.js';
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
import { floodgatePlan, type Target, type TargetPlan, withTargets } from '../targets.js';
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
  /** CPU time of the answering process in each round; undefined entries when it has no pid. */
  cpuMs: Array<number | undefined>;
}

interface ShedRow {
  target: string;
  load: ClosedLoopResult;
  expectedStatus: number;
  /** Answers per CPU second of the answering process: its cost per answer, whatever the client's pace. */
  perCpuSecond?: number;
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
      { name: 'floodgate shedding (503)', region: 'empty', expectedStatus: 503, rounds: [], cpuMs: [] },
      { name: 'floodgate forwarding (200)', region: 'open', expectedStatus: 200, rounds: [], cpuMs: [] },
      { name: bare.name, region: undefined, expectedStatus: 429, rounds: [], cpuMs: [] },
    ];
    const [shed, forwarded, floor] = kinds as [ShedKind, ShedKind, ShedKind];
    const run = (
      kind: ShedKind,
      target: Target,
      options: Pick<ClosedLoopOptions, 'durationSec' | 'amount'>,
    ) => {
      const headers: Record<string, string> = kind.region ? { 'x-region': kind.region } : {};
      return withCpuOf(target.pid, () =>
        runClosedLoop({ url: target.url, path: '/small', headers, connections: CONNECTIONS, ...options }),
      );
    };
    try {
      const upstreams = { origin: host.urls };
      // Both servers run throughout (on the proxy core) and take turns, so each ratio compares two
      // answers measured within seconds of each other.
      await withTargets([floodgatePlan(shedConfig), bare], upstreams, notes, async (started) => {
        if (started.length < 2) return;
        const [gateway, bareTarget] = started.map(({ target }) => target) as [Target, Target];
        const targetOf = (kind: ShedKind) => (kind === floor ? bareTarget : gateway);
        context.progress.startPhase('warm-up');
        for (const kind of kinds) await run(kind, targetOf(kind), warmup);
        for (let round = 0; round < ROUNDS; round++) {
          context.progress.startPhase(`round ${round + 1} of ${ROUNDS}`);
          for (const kind of roundOrder(kinds, round)) {
            const { result, cpuMs } = await run(kind, targetOf(kind), roundBudget(budget));
            kind.rounds.push(result);
            kind.cpuMs.push(cpuMs);
          }
        }
      });
    } finally {
      await host.close();
    }
    const measured = kinds.filter((kind) => kind.rounds.length === ROUNDS);
    const rows: ShedRow[] = measured.map(rowOf);
    const ratio = (a: ShedKind, b: ShedKind) => {
      if (a.rounds.length !== ROUNDS || b.rounds.length !== ROUNDS) return ['-', '-', '-'];
      const r = roundRatios(a.rounds, b.rounds);
      const [mine, theirs] = [a, b].map((kind) => rows.find((row) => row.target === kind.name)?.perCpuSecond);
      const byCpu = mine && theirs ? mine / theirs : 0;
      return [formatRatio(r.median), `${formatRatio(r.min)} - ${formatRatio(r.max)}`, formatRatio(byCpu)];
    };
    return {
      data: { connections: CONNECTIONS, budget, rows },
      tables: [
        {
          title: 'Answers per second by kind of answer',
          columns: [
            'target',
            'answers/s',
            'p50 ms',
            'p99 ms',
            'answers per CPU s',
            'expected status share',
            'errors',
          ],
          rows: rows.map((row) => [
            row.target,
            formatNumber(row.load.rps),
            formatNumber(row.load.latencyMs.p50, 2),
            formatNumber(row.load.latencyMs.p99, 2),
            row.perCpuSecond === undefined ? '-' : formatNumber(row.perCpuSecond),
            formatPercent(
              (row.load.statuses[String(row.expectedStatus)] ?? 0) / Math.max(1, row.load.requests),
            ),
            row.load.errors,
          ]),
        },
        {
          title: 'Shed answers compared',
          columns: ['comparison', 'median of rounds', 'range', 'by CPU per answer'],
          rows: [
            ['floodgate shed / floodgate forwarded', ...ratio(shed, forwarded)],
            ['floodgate shed / bare 429', ...ratio(shed, floor)],
          ],
        },
      ],
      charts: [],
      notes: [
        `${CONNECTIONS} keep-alive connections, GET /small, ${describeBudget(budget)} per kind of answer in ${ROUNDS} rounds that take turns (the order alternating), after a warm-up; ratios are taken within each round. By CPU per answer compares answers per CPU second of the answering process, which does not depend on how fast the load generator is. The shed region has rps 1 and burst 1, so nearly every request is refused before it reaches the backend.`,
        ...notes,
      ],
    };
  },
};

function rowOf(kind: ShedKind): ShedRow {
  const load = mergeRounds(kind.rounds);
  const row: ShedRow = { target: kind.name, load, expectedStatus: kind.expectedStatus };
  const cpuMs = totalCpuMs(kind.cpuMs);
  if (cpuMs !== undefined) row.perCpuSecond = load.requests / (cpuMs / 1000);
  return row;
}
