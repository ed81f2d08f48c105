import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DurationEstimates, kthSmallest } from '../../src/replay/duration-estimates.js';

describe('kthSmallest', () => {
  // Whatever the values (ties, zeros, infinities), it picks what a sort would put at k.
  it('picks what sorting would put at k', () => {
    const value = fc.oneof(
      fc.constantFrom(0, 1, 2, Number.POSITIVE_INFINITY),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 40 }), fc.nat(), (values, pick) => {
        const k = pick % values.length;
        const sorted = Float64Array.from(values).sort();
        expect(kthSmallest(Float64Array.from(values), values.length, k)).toBe(sorted[k]);
      }),
      { numRuns: 3000 },
    );
  });

  // Only the first `count` values take part.
  it('looks at the first count values only', () => {
    expect(kthSmallest(Float64Array.of(5, 3, 9, 0, 0), 3, 1)).toBe(5);
  });
});

describe('DurationEstimates', () => {
  // The median of the route's last 31 admitted durations, recomputed every few new ones.
  it('estimates a route by the median of its recent durations', () => {
    const estimates = new DurationEstimates();
    // Regions by id, as the driver numbers them.
    const [usEast, euWest] = [0, 1];
    for (let ms = 100; ms >= 1; ms--) estimates.observe(usEast, 0, ms);
    // The last 31 are 31..1: their median is 16.
    expect(estimates.own(usEast, 0)).toBe(16);
    expect(estimates.own(usEast, 1)).toBeNaN();
    expect(estimates.withFallback(usEast, 1)).toBe(16);
    expect(new DurationEstimates().withFallback(euWest, 0)).toBe(0);
  });
});
