import { describe, expect, it } from 'vitest';
import type { RegionView } from '../../src/admin/admin-view.js';
import { RegionHistory } from '../../src/admin/region-history.js';
import { regionView } from '../support/region-view.js';

function withAnswers(ok: number, failed: number, more: Partial<RegionView> = {}): RegionView {
  return regionView({
    upstreamResponses: { '1xx': 0, '2xx': ok, '3xx': 0, '4xx': 0, '5xx': failed },
    ...more,
  });
}

describe('RegionHistory', () => {
  it('keeps at most `capacity` samples, the newest, oldest first', () => {
    // Seven samples into a ring of three leave the last three in order.
    const history = new RegionHistory(3);
    for (let second = 0; second < 7; second++) history.record(second * 1000, { east: regionView() });
    expect(history.points().map((p) => p.at)).toEqual([4000, 5000, 6000]);
  });

  it('returns what it has before the ring is full', () => {
    // A page opened a few seconds after start gets those few seconds, not padding.
    const history = new RegionHistory(300);
    expect(history.points()).toEqual([]);
    history.record(1000, { east: regionView() });
    history.record(2000, { east: regionView() });
    expect(history.points()).toHaveLength(2);
  });

  it('turns cumulative upstream answers into a 5xx rate and share since the previous sample', () => {
    // 30 more 2xx and 10 more 5xx over 2 s: 5 per second, a quarter of the answers.
    const history = new RegionHistory();
    const first = history.record(0, { east: withAnswers(100, 20) });
    expect(first.regions.east).toMatchObject({ upstream5xxRps: 0, upstream5xxShare: 0 });
    const next = history.record(2000, { east: withAnswers(130, 30) });
    expect(next.regions.east).toMatchObject({ upstream5xxRps: 5, upstream5xxShare: 0.25 });
  });

  it('counts a region whose counts went down as recreated, from zero', () => {
    // A reload that removes and re-adds a region restarts its counters; no negative rate.
    const history = new RegionHistory();
    history.record(0, { east: withAnswers(100, 50) });
    const next = history.record(1000, { east: withAnswers(3, 1) });
    expect(next.regions.east).toMatchObject({ upstream5xxRps: 1, upstream5xxShare: 0.25 });
  });

  it('carries admitted, shed, the configured limit and shed as a share of offered', () => {
    // 30 admitted and 10 shed a second: a quarter of what was offered is shed.
    const history = new RegionHistory();
    const point = history.record(0, {
      east: regionView({
        admittedRps: 30,
        shedRps: 10,
        rps: 25,
        currentRps: 40,
        baselineRps: 12,
        surging: true,
      }),
      idle: regionView(),
    });
    expect(point.regions.east).toMatchObject({
      admittedRps: 30,
      shedRps: 10,
      limitRps: 25,
      currentRps: 40,
      baselineRps: 12,
      surging: true,
      shedShare: 0.25,
    });
    expect(point.regions.idle?.shedShare).toBe(0);
  });

  it('refuses a capacity that is not a positive integer', () => {
    // A zero-length ring would silently keep nothing.
    expect(() => new RegionHistory(0)).toThrow(RangeError);
  });
});
