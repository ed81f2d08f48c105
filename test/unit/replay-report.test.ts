import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/replay/replay-summary.js';
import { replayChart } from '../../src/replay/report-chart.js';
import { reportCompare } from '../../src/replay/report-compare.js';
import { speedNote } from '../../src/replay/report-parts.js';
import { reportTable } from '../../src/replay/report-table.js';
import { accessLog, replayText, requests } from '../support/access-log.js';

const ROUTES = [{ match: { pathPrefix: '/api/video' }, priority: 'critical' }];

function config(rps: number, burst: number) {
  return {
    regions: { 'us-east': { capacity: { rps, burst } }, 'us-west': { capacity: { rps: 100 } } },
    routes: ROUTES,
    surge: { factor: 2, minRps: 1, windowMs: 1000, halfLifeMs: 60_000 },
  };
}

// Quiet for 10 s, then 3 s of 40 requests a second in us-east (half critical), and a little us-west traffic.
const LOG = accessLog([
  ...requests(10, { at: 0, path: '/api/video/1' }, 1000),
  ...requests(60, { at: 10_000, path: '/api/video/1' }, 50),
  ...requests(60, { at: 10_025 }, 50),
  ...requests(3, { at: 500, region: 'us-west' }, 1000),
]);

describe('replay reports', () => {
  // --json has exactly the contract's shape: all four priorities, only the reasons that occurred, ISO surge times.
  it('summarizes in the contract shape', async () => {
    const outcome = await replayText(LOG, [config(1, 5)]);
    const summary = summarize(outcome, outcome.configs[0]!);
    expect(Object.keys(summary)).toEqual(['requests', 'skipped', 'regions']);
    expect(summary.requests).toBe(133);
    const east = summary.regions['us-east']!;
    expect(Object.keys(east)).toEqual(['admitted', 'shed', 'byPriority', 'surges']);
    expect(Object.keys(east.byPriority)).toEqual(['critical', 'high', 'normal', 'low']);
    expect(Object.keys(east.shed)).toEqual(['rate']);
    expect(east.admitted + east.shed.rate!).toBe(130);
    expect(east.surges).toHaveLength(1);
    expect(east.surges[0]!.from).toMatch(/^2026-12-01T10:00:1\d\.\d{3}Z$/);
    expect(summary.regions['us-west']).toEqual({
      admitted: 3,
      shed: {},
      byPriority: {
        critical: { admitted: 0, shed: 0 },
        high: { admitted: 0, shed: 0 },
        normal: { admitted: 3, shed: 0 },
        low: { admitted: 0, shed: 0 },
      },
      surges: [],
    });
  });

  // The table has a row per priority with its share shed, a total, and the surge periods.
  it('prints a table per region and priority', async () => {
    const outcome = await replayText(LOG, [config(1, 5)]);
    const east = summarize(outcome, outcome.configs[0]!).regions['us-east']!;
    const text = reportTable(outcome, ['access.log']);
    expect(text).toContain('replayed 133 requests from access.log');
    expect(text).toMatch(/region us-east: 130 requests, \d+ admitted, \d+ shed/);
    const critical = text.split('\n').find((line) => line.trim().startsWith('critical'))!;
    expect(critical.trim().split(/\s+/).slice(1, 4)).toEqual([
      String(east.byPriority.critical.admitted + east.byPriority.critical.shed),
      String(east.byPriority.critical.admitted),
      String(east.byPriority.critical.shed),
    ]);
    expect(text).toMatch(/surges: 2026-12-01T10:00:1\d\.\d{3}Z to /);
    expect(text).toContain('surges: none');
    expect(text).toContain('Not replayed: breakers, failover and stale copies');
  });

  // --compare lines both configs up with the difference, second minus first.
  it('compares two configs side by side', async () => {
    const outcome = await replayText(LOG, [config(1, 5), config(1, 20)]);
    const [tight, roomy] = outcome.configs.map((c) => summarize(outcome, c).regions['us-east']!);
    expect(roomy!.admitted).toBeGreaterThan(tight!.admitted);
    const text = reportCompare(outcome, ['access.log']);
    const admittedRow = text.split('\n').find((line) => line.trim().startsWith('admitted'))!;
    expect(admittedRow.trim().split(/\s+/)).toEqual([
      'admitted',
      String(tight!.admitted),
      String(roomy!.admitted),
      `+${roomy!.admitted - tight!.admitted}`,
    ]);
    expect(text).toMatch(/shed share +\d+\.\d% +\d+\.\d% +-\d+\.\d pts/);
  });

  // The chart has one panel per region, with offered, admitted and shed per second and the surge marked.
  it('draws a per-second chart per region', async () => {
    const outcome = await replayText(LOG, [config(1, 5), config(1, 20)], { perSecond: true });
    const svg = replayChart(outcome);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<svg /g)).toHaveLength(3);
    for (const text of [
      'us-east: requests per second',
      'us-west: requests per second',
      '>offered<',
      '>shed<',
    ])
      expect(svg).toContain(text);
    expect(svg).toContain('admitted (config-2)');
    expect(svg).toContain('surge began');
    const series = outcome.configs[0]!.regions[0]!.series!;
    expect(series.offered[10]).toBe(40);
    expect(series.admitted[10]! + series.shed[10]!).toBe(40);
  });

  // The speed note counts skipped lines as read, and compares the wall time with the log's span.
  it('says how fast it replayed', async () => {
    const outcome = await replayText(`${LOG}not json\n`, [config(1, 5)]);
    expect(outcome.skipped).toBe(1);
    const span = outcome.lastArrival - outcome.firstArrival;
    expect(span).toBeGreaterThan(12_000);
    expect(speedNote(outcome, 133, 2)).toBe(
      `replay took 2 ms: 67,000 lines per second, ${Math.round(span / 2).toLocaleString('en-US')} times faster than real time`,
    );
    expect(speedNote(outcome, 133, 1500)).toBe(
      'replay took 1.5 s: 89 lines per second, 9 times faster than real time',
    );
    // No faster than the log's own time: nothing to boast of.
    expect(speedNote(outcome, 133, span)).toMatch(/^replay took [\d.]+ s: \d+ lines per second$/);
  });
});
