import type { FloodgateConfig } from '../floodgate-config.js';
import { type ClosedLoopResult, closedLoopBudget, describeBudget, runClosedLoop } from '../load.js';
import { startBare429 } from '../peers/node-peers.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import {
  formatNumber,
  formatPercent,
  formatRatio,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
} from '../scenario.js';
import { floodgatePlan, measureTarget, type Target, type TargetPlan } from '../targets.js';
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
    const rows: ShedRow[] = [];
    const host = await startUpstreams([{ name: 'origin' }]);
    const bare: TargetPlan = { name: 'bare node:http 429', start: () => startBare429() };
    const measure = async (
      name: string,
      target: Target,
      region: string | undefined,
      expectedStatus: number,
    ) => {
      context.progress.startPhase(name);
      const headers: Record<string, string> = region ? { 'x-region': region } : {};
      await runClosedLoop({
        url: target.url,
        path: '/small',
        headers,
        connections: CONNECTIONS,
        ...warmup,
      });
      let elapsed = 0;
      const load = await runClosedLoop({
        url: target.url,
        path: '/small',
        headers,
        connections: CONNECTIONS,
        ...budget,
        onSecond: (responses) => {
          elapsed += 1000;
          context.progress.update(elapsed, budget.durationSec * 1000, `${formatNumber(responses)} answers/s`);
        },
      });
      rows.push({ target: name, load, expectedStatus });
    };
    try {
      const upstreams = { origin: host.urls };
      await measureTarget(floodgatePlan(shedConfig), upstreams, notes, async (target) => {
        await measure('floodgate shedding (503)', target, 'empty', 503);
        await measure('floodgate forwarding (200)', target, 'open', 200);
      });
      await measureTarget(bare, upstreams, notes, (target) => measure(bare.name, target, undefined, 429));
    } finally {
      await host.close();
    }
    const find = (prefix: string) => rows.find((row) => row.target.startsWith(prefix));
    const shed = find('floodgate shedding');
    const forwarded = find('floodgate forwarding');
    const floor = find('bare');
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
          columns: ['comparison', 'ratio'],
          rows: [
            [
              'floodgate shed / floodgate forwarded',
              shed && forwarded ? formatRatio(shed.load.rps / forwarded.load.rps) : '-',
            ],
            ['floodgate shed / bare 429', shed && floor ? formatRatio(shed.load.rps / floor.load.rps) : '-'],
          ],
        },
      ],
      charts: [],
      notes: [
        `${CONNECTIONS} keep-alive connections, GET /small, ${describeBudget(budget)} each. The shed region has rps 1 and burst 1, so nearly every request is refused before it reaches the backend.`,
        ...notes,
      ],
    };
  },
};
