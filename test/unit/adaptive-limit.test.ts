import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { AdaptiveLimit, type AdaptiveOptions } from '../../src/admission/adaptive-limit.js';

const OPTIONS: AdaptiveOptions = {
  minLimit: 8,
  maxLimit: 200,
  initialLimit: 8,
  sampleWindowMs: 250,
  minRttWindowMs: 30_000,
};
const SAMPLES_PER_WINDOW = 5;

let now = 0;
const clock = () => now;

beforeEach(() => {
  now = 0;
});

/** Feeds `windows` sample windows of requests taking `rttMs`, each started with the limit fully used. */
function drive(limiter: AdaptiveLimit, rttMs: number, windows: number, inflight?: number): void {
  const step = (OPTIONS.sampleWindowMs ?? 250) / SAMPLES_PER_WINDOW;
  for (let i = 0; i < windows * SAMPLES_PER_WINDOW; i++) {
    now += step;
    limiter.sample(rttMs, inflight ?? limiter.limit);
  }
}

describe('AdaptiveLimit', () => {
  it('grows to the maximum while latency stays at its minimum', () => {
    // Verifies: steady latency with the limit in use raises it all the way to maxLimit.
    const limiter = new AdaptiveLimit(OPTIONS, clock);
    expect(limiter.limit).toBe(8);
    drive(limiter, 10, 20);
    const partWay = limiter.limit;
    expect(partWay).toBeGreaterThan(8);
    expect(partWay).toBeLessThan(200);
    drive(limiter, 10, 400);
    expect(limiter.limit).toBe(200);
  });

  it('falls towards the minimum when latency rises fivefold, and recovers afterwards', () => {
    // Verifies: queueing latency shrinks the limit to minLimit; normal latency brings it back to max.
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 200 }, clock);
    drive(limiter, 10, 40);
    expect(limiter.limit).toBe(200);
    drive(limiter, 50, 10);
    const early = limiter.limit;
    expect(early).toBeLessThan(200);
    drive(limiter, 50, 60);
    expect(limiter.limit).toBeLessThan(early);
    expect(limiter.limit).toBeLessThanOrEqual(10);
    drive(limiter, 10, 400);
    expect(limiter.limit).toBe(200);
  });

  it('ignores latency within tolerance of the minimum', () => {
    // Verifies: 20% slower answers are not taken for queueing.
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 200 }, clock);
    drive(limiter, 10, 10);
    drive(limiter, 12, 40);
    expect(limiter.limit).toBe(200);
  });

  it('recomputes at most once per sample window', () => {
    // Verifies: samples inside one window leave the limit alone; the first after it updates it.
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 100 }, clock);
    for (let i = 0; i < 50; i++) {
      now += 4;
      limiter.sample(10, 100);
    }
    expect(limiter.limit).toBe(100);
    now += 50;
    limiter.sample(10, 100);
    expect(limiter.limit).toBeGreaterThan(100);
  });

  it('does not grow while most of the limit goes unused', () => {
    // Verifies: the app-limited rule: with a quarter of the limit in flight, the limit holds.
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 100 }, clock);
    drive(limiter, 10, 100, 25);
    expect(limiter.limit).toBe(100);
  });

  it('treats a lasting slowdown as the new normal once the old minimum expires', () => {
    // Verifies: the minimum RTT is re-measured every minRttWindowMs, so the limit climbs back.
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 200 }, clock);
    drive(limiter, 10, 40);
    drive(limiter, 50, 40);
    expect(limiter.limit).toBeLessThan(30);
    expect(limiter.minRtt).toBe(10);
    drive(limiter, 50, 2 * 120 + 400);
    expect(limiter.minRtt).toBe(50);
    expect(limiter.limit).toBe(200);
  });

  it('uses the median of a window, so a few timeouts do not read as queueing', () => {
    // Verifies: two 5 s samples among fast ones in every window leave the limit at its maximum.
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 200 }, clock);
    for (let i = 0; i < 200; i++) {
      for (const rtt of [10, 5_000, 11, 5_000, 10]) {
        now += 50;
        limiter.sample(rtt, limiter.limit);
      }
    }
    expect(limiter.limit).toBe(200);
  });

  it('clamps the learned limit to new bounds on reconfigure', () => {
    // Verifies: reconfigure keeps the learned value but never outside [minLimit, maxLimit].
    const limiter = new AdaptiveLimit({ ...OPTIONS, initialLimit: 150 }, clock);
    limiter.reconfigure({ ...OPTIONS, maxLimit: 100 });
    expect(limiter.limit).toBe(100);
    limiter.reconfigure({ ...OPTIONS, minLimit: 120, maxLimit: 300 });
    expect(limiter.limit).toBe(120);
  });

  it('always stays within its bounds', () => {
    // Verifies: for arbitrary latencies, in-flight counts and timing the limit stays in [min, max].
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 60_000, noNaN: true }), fc.nat(1_000), fc.nat(2_000)), {
          maxLength: 300,
        }),
        (minLimit, extra, samples) => {
          let time = 0;
          const maxLimit = minLimit + extra;
          const limiter = new AdaptiveLimit({ minLimit, maxLimit, sampleWindowMs: 100 }, () => time);
          for (const [rtt, inflight, advance] of samples) {
            time += advance;
            limiter.sample(rtt, inflight);
            expect(limiter.limit).toBeGreaterThanOrEqual(minLimit);
            expect(limiter.limit).toBeLessThanOrEqual(maxLimit);
            expect(Number.isInteger(limiter.limit)).toBe(true);
          }
        },
      ),
    );
  });
});
