import { describe, expect, it } from 'vitest';
import { RateMeter } from '../../../src/admission/rate-meter.js';

/** Records `rps` evenly spaced requests per second from `from` to `to` (ms). */
function offer(meter: RateMeter, rps: number, from: number, to: number): void {
  const gap = 1000 / rps;
  for (let t = from; t < to; t += gap) meter.record(t);
}

describe('RateMeter', () => {
  it('measures a steady rate', () => {
    // 50 req/s for 10 s reads as 50 req/s over a 5 s window, at any phase within a second.
    const meter = new RateMeter(5000, 0);
    offer(meter, 50, 0, 10_000);
    expect(meter.rate(10_000)).toBeCloseTo(50, 0);
    offer(meter, 50, 10_000, 10_400);
    expect(meter.rate(10_400)).toBeCloseTo(50, 0);
  });

  it('slides smoothly over a step in traffic', () => {
    // 2.5 s of 100 req/s after silence is half of a 5 s window: 50 req/s.
    const meter = new RateMeter(5000, 0);
    offer(meter, 100, 10_000, 12_500);
    expect(meter.rate(12_500)).toBeCloseTo(50, 0);
    expect(meter.rate(15_000)).toBeCloseTo(50, 0);
    expect(meter.rate(16_000)).toBeCloseTo(30, 0);
  });

  it('forgets requests older than the window', () => {
    // After a full quiet window the rate is zero, even though stale slots remain in the ring.
    const meter = new RateMeter(3000, 0);
    offer(meter, 100, 0, 2000);
    expect(meter.rate(2000)).toBeGreaterThan(0);
    expect(meter.rate(5000)).toBe(0);
  });

  it('covers only its lifetime while younger than the window, and at least one second', () => {
    // 20 requests in the first 0.5 s read as 20/s, not 40/s or 4/s.
    const meter = new RateMeter(5000, 1000);
    offer(meter, 40, 1000, 1500);
    expect(meter.rate(1500)).toBeCloseTo(20, 6);
    offer(meter, 40, 1500, 3000);
    expect(meter.rate(3000)).toBeCloseTo(40, 0);
  });

  it('counts a batch recorded at once with n', () => {
    // record(now, n) adds n requests to the slot.
    const meter = new RateMeter(1000, 0);
    meter.record(0, 7);
    expect(meter.rate(500)).toBeCloseTo(7, 6);
  });

  it('clamps the window to 1..5 s and keeps its slots when the window changes', () => {
    // Window changes take effect on the data already recorded.
    const meter = new RateMeter(60_000, 0);
    expect(meter.windowMs).toBe(5000);
    offer(meter, 10, 0, 10_000);
    meter.windowMs = 1;
    expect(meter.windowMs).toBe(1000);
    expect(meter.rate(10_000)).toBeCloseTo(10, 0);
  });

  it('counts records at the edges of a second in the second they fall in', () => {
    // Epoch-scale times with fractional ms: the last instant of a second, the first of the next,
    // then a late one for the second before; each lands in its own slot.
    const start = 1_700_000_000_000;
    const meter = new RateMeter(5000, start);
    meter.record(start + 500);
    meter.record(start + 999.9997);
    meter.record(start + 1000);
    meter.record(start + 1000.0002);
    meter.record(start + 998);
    // Over the last second only (fully inside the second slot): the two records of that second.
    expect(meter.rateOver(start + 2000, 1000)).toBeCloseTo(2, 6);
    expect(meter.rate(start + 2000)).toBeCloseTo(2.5, 6);
  });

  it('drops a late record whose slot a later second has taken, and counts weighted records', () => {
    const start = 1_700_000_000_000;
    const meter = new RateMeter(5000, start);
    meter.record(start + 500);
    // Six seconds on, the same slot serves a new second; then one for the first second turns up.
    meter.record(start + 6500);
    meter.record(start + 6600, 3);
    meter.record(start + 700);
    meter.record(start + 6700, 2);
    expect(meter.rateOver(start + 7000, 1000)).toBeCloseTo(6, 6);
  });
});
