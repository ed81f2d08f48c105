import { describe, expect, it } from 'vitest';
import type { ReplayOutcome } from '../../src/replay/replay-driver.js';
import { type RegionSummary, summarize } from '../../src/replay/replay-summary.js';
import { accessLog, type RequestSpec, replayText, requests } from '../support/access-log.js';

const ROUTES = [
  { match: { pathPrefix: '/api/video' }, priority: 'critical' },
  { match: { pathPrefix: '/api/notifications' }, priority: 'low' },
];

function oneRegion(capacity: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { regions: { 'us-east': { capacity } }, routes: ROUTES, ...extra };
}

async function replayed(specs: RequestSpec[], config: Record<string, unknown>): Promise<ReplayOutcome> {
  return replayText(accessLog(specs), [config]);
}

function region(outcome: ReplayOutcome, name = 'us-east', config = 0): RegionSummary {
  return summarize(outcome, outcome.configs[config]!).regions[name]!;
}

describe('replay through the admission rules', () => {
  // A bucket of burst 5 refilling 1 token a second: 10 requests at once admit 5; one a second later admits each.
  it('replays the token bucket exactly', async () => {
    const specs = [
      ...requests(10, { at: 0, path: '/api/video/1' }),
      { at: 1000, path: '/api/video/1' },
      { at: 2000, path: '/api/video/1' },
    ];
    const east = region(await replayed(specs, oneRegion({ rps: 1, burst: 5 })));
    expect(east.admitted).toBe(7);
    expect(east.shed).toEqual({ rate: 5 });
    expect(east.byPriority.critical).toEqual({ admitted: 7, shed: 5 });
  });

  // Each admitted request holds its in-flight slot for its recorded duration, and hands it back when it ends.
  it('holds in-flight slots for the recorded durations', async () => {
    const specs = [
      ...requests(3, { at: 0, durationMs: 1000, path: '/api/video/1' }),
      { at: 999, path: '/api/video/1' },
      { at: 1000, path: '/api/video/1' },
    ];
    const east = region(await replayed(specs, oneRegion({ rps: 1000, burst: 1000, maxConcurrent: 2 })));
    // Two slots taken at 0 until 1000: the third and the one at 999 are refused; at 1000 both are back.
    expect(east.shed).toEqual({ concurrency: 2 });
    expect(east.admitted).toBe(3);
  });

  // Priorities come from FILE's routes; once the region runs short, the reserves shed low work first while critical still gets tokens.
  it('applies the routes and the priority reserves', async () => {
    const specs = [
      ...requests(2, { at: 0, path: '/api/video/1' }),
      ...requests(8, { at: 1, path: '/api/notifications', priority: 'critical' }, 1),
      ...requests(4, { at: 100, path: '/api/video/1' }, 1),
    ];
    const east = region(await replayed(specs, oneRegion({ rps: 0.1, burst: 10 })));
    // Critical was offered too, so low may only take a token while 5 stay behind: at 8, 7 and 6.
    expect(east.byPriority.low).toEqual({ admitted: 3, shed: 5 });
    expect(east.byPriority.critical).toEqual({ admitted: 6, shed: 0 });
  });

  // Within capacity nothing is shed, whatever the priority: low borrows the reserves nobody needs.
  it('lets idle reserves be borrowed', async () => {
    const east = region(
      await replayed(
        requests(8, { at: 0, path: '/api/notifications' }, 1),
        oneRegion({ rps: 0.1, burst: 10 }),
      ),
    );
    expect(east.byPriority.low).toEqual({ admitted: 8, shed: 0 });
  });

  // A logged priority below the route's is the client's own x-priority and is kept; a higher one is not.
  it('lowers a priority where the log says the client lowered it', async () => {
    const specs = [
      { at: 0, path: '/api/video/1', priority: 'low' },
      { at: 1, path: '/api/notifications', priority: 'critical' },
    ];
    const east = region(await replayed(specs, oneRegion({ rps: 100 })));
    expect(east.byPriority.low.admitted).toBe(2);
    expect(east.byPriority.critical.admitted).toBe(0);
  });

  // A request that failed over live counts against its home region; a region FILE lacks goes to routing.default.
  it('replays each request in its home region', async () => {
    const specs = [
      { at: 0, region: 'us-west', failoverFrom: 'us-east', outcome: 'failover' },
      { at: 1, region: 'us-west' },
      { at: 2, region: 'eu-north' },
    ];
    const config = {
      regions: { 'us-east': { capacity: { rps: 100 } }, 'us-west': { capacity: { rps: 100 } } },
      routing: { default: 'us-east' },
    };
    const outcome = await replayed(specs, config);
    expect(region(outcome, 'us-east').admitted).toBe(2);
    expect(region(outcome, 'us-west').admitted).toBe(1);
    expect(outcome.configs[0]!.remapped).toEqual(new Map([['eu-north', 1]]));
  });

  // Client limits keyed by ip use the logged client; other clients are not affected.
  it('replays client limits by ip', async () => {
    const specs = [
      ...requests(5, { at: 0, client: '10.0.0.1' }, 1),
      ...requests(2, { at: 10, client: '10.0.0.2' }, 1),
      { at: 20 },
    ];
    const config = oneRegion({ rps: 100 }, { clientLimit: { key: 'ip', rps: 1, burst: 2 } });
    const outcome = await replayed(specs, config);
    const east = region(outcome);
    expect(east.shed).toEqual({ 'client-rate': 3 });
    expect(east.admitted).toBe(5);
    expect(outcome.configs[0]!.withoutClient).toBe(1);
  });

  // Header keys are not in the log, so their limits are reported as not replayed rather than guessed.
  it('reports client limits by header as not replayed', async () => {
    const config = oneRegion({ rps: 100 }, { clientLimit: { key: 'header:x-api-key', rps: 1, burst: 1 } });
    const outcome = await replayed(requests(5, { at: 0, client: '10.0.0.1' }), config);
    expect(region(outcome).admitted).toBe(5);
    expect(outcome.configs[0]!.notReplayed.join()).toContain('header:x-api-key');
  });

  // Shadow mode counts what would be shed but lets it through, so those requests hold slots too.
  it('counts would-be sheds in shadow mode and lets them hold slots', async () => {
    const specs = [
      ...requests(2, { at: 0, durationMs: 100, path: '/api/video/1' }),
      ...requests(2, { at: 1, durationMs: 1000, path: '/api/video/1' }),
      { at: 200, path: '/api/video/1' },
    ];
    const capacity = { rps: 1000, burst: 1000, maxConcurrent: 2 };
    const shadow = await replayText(accessLog(specs), [
      oneRegion(capacity, { shedding: { mode: 'shadow' } }),
      oneRegion(capacity),
    ]);
    expect(shadow.configs[0]!.enforce).toBe(false);
    // At 200 the two let through against the decision still hold their slots.
    expect(region(shadow, 'us-east', 0)).toMatchObject({ admitted: 2, shed: { concurrency: 3 } });
    expect(region(shadow, 'us-east', 1)).toMatchObject({ admitted: 3, shed: { concurrency: 2 } });
  });
});

describe('replay pacing', () => {
  // An admitted request leaves at its region's next turn (send-pacer.ts), holding its slot while
  // it waits: a burst the bucket lets in at once backs up into the in-flight cap. Requests 20 ms
  // apart, turns 90 ms apart (rps 10 with headroom): waits grow until the cap of 3 is full.
  it('replays the pacing of admitted requests, which hold their slots while they wait', async () => {
    const specs = requests(10, { at: 0, durationMs: 10, path: '/api/video/1' }, 20);
    const capacity = { rps: 10, burst: 10, maxConcurrent: 3 };
    const outcome = await replayText(accessLog(specs), [
      oneRegion({ ...capacity, paceMaxWaitMs: 2000 }),
      oneRegion({ ...capacity, paceMaxWaitMs: 0 }),
    ]);
    const paced = region(outcome, 'us-east', 0);
    expect(paced.shed.concurrency).toBeGreaterThan(0);
    expect(paced.admitted + paced.shed.concurrency!).toBe(10);
    expect(region(outcome, 'us-east', 1)).toMatchObject({ admitted: 10, shed: {} });
  });

  // What the live config made a request wait for its turn is not the upstream's time: it is
  // taken out of the slot time, and the replayed config's own pacing put in its place. Here the
  // upstream took 10 ms of each 500; counted whole, five would be in flight at once.
  it('takes the logged pacing wait out of the slot time', async () => {
    const capacity = { rps: 1000, burst: 1000, maxConcurrent: 2 };
    const waited = requests(10, { at: 0, durationMs: 500, waitMs: 490, path: '/api/video/1' }, 100);
    const unpaced = requests(10, { at: 0, durationMs: 500, path: '/api/video/1' }, 100);
    expect(region(await replayed(waited, oneRegion(capacity)))).toMatchObject({ admitted: 10, shed: {} });
    expect(region(await replayed(unpaced, oneRegion(capacity))).shed.concurrency).toBeGreaterThan(0);
  });
});

describe('replay timing', () => {
  // Lines are written when answers end; replay restores arrival order, so the long request that came first wins the slot.
  it('replays in arrival order, not in log order', async () => {
    const specs = [
      { at: 0, durationMs: 3000, path: '/api/video/a' },
      { at: 1000, durationMs: 10, path: '/api/video/b' },
    ];
    const text = accessLog(specs);
    expect(text.indexOf('/api/video/b')).toBeLessThan(text.indexOf('/api/video/a'));
    const east = region(await replayText(text, [oneRegion({ rps: 100, maxConcurrent: 1 })]));
    expect(east.shed).toEqual({ concurrency: 1 });
    expect(east.admitted).toBe(1);
  });

  // A request refused live holds its slot for the median duration of its route's admitted requests.
  it('gives requests refused live the median duration of their route', async () => {
    const specs = [
      ...requests(3, { at: 0, durationMs: 500, path: '/api/video/1' }, 600),
      { at: 2000, durationMs: 0.2, outcome: 'shed', path: '/api/video/1' },
      { at: 2400, path: '/api/video/1' },
      { at: 2600, path: '/api/video/1' },
    ];
    const east = region(await replayed(specs, oneRegion({ rps: 100, maxConcurrent: 1 })));
    // The shed one is admitted in replay and holds its slot 500 ms: the request at 2400 finds none, at 2600 one.
    expect(east.shed).toEqual({ concurrency: 1 });
    expect(east.admitted).toBe(5);
  });

  // A surge with shedBelow sheds the lower priorities while it lasts; the period is reported.
  it('detects surges and sheds below shedBelow while one lasts', async () => {
    const normal = requests(200, { at: 0, path: '/api/video/1' }, 100);
    const surge = [
      ...requests(250, { at: 20_000, path: '/api/video/1' }, 20),
      ...requests(250, { at: 20_010, path: '/api/notifications' }, 20),
    ];
    const config = oneRegion(
      { rps: 10, burst: 100_000, maxConcurrent: 10_000 },
      { surge: { factor: 2, minRps: 1, windowMs: 2000, halfLifeMs: 60_000, shedBelow: 'normal' } },
    );
    const east = region(await replayed([...normal, ...surge], config));
    expect(east.surges).toHaveLength(1);
    const from = Date.parse(east.surges[0]!.from);
    const to = Date.parse(east.surges[0]!.to);
    expect(from).toBeGreaterThanOrEqual(Date.parse('2026-12-01T10:00:20.000Z'));
    expect(from).toBeLessThanOrEqual(Date.parse('2026-12-01T10:00:24.000Z'));
    // Still surging when the log ends: the period ends at the region's last request.
    expect(to).toBe(Date.parse('2026-12-01T10:00:24.990Z'));
    expect(east.byPriority.critical.shed).toBe(0);
    expect(east.byPriority.low.shed).toBeGreaterThan(150);
    expect(east.shed).toEqual({ surge: east.byPriority.low.shed });
  });

  // Without shedBelow a surge is only reported.
  it('reports a surge without shedding when shedBelow is unset', async () => {
    const specs = [
      ...requests(200, { at: 0, path: '/api/notifications' }, 100),
      ...requests(500, { at: 20_000, path: '/api/notifications' }, 10),
    ];
    const config = oneRegion(
      { rps: 10, burst: 100_000, maxConcurrent: 10_000 },
      { surge: { factor: 2, minRps: 1, windowMs: 2000, halfLifeMs: 60_000 } },
    );
    const east = region(await replayed(specs, config));
    expect(east.surges).toHaveLength(1);
    expect(east.admitted).toBe(700);
  });
});
