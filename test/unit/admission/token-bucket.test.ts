import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/admission/token-bucket.js';

describe('TokenBucket', () => {
  it('starts full and loses one token per take', () => {
    // A new bucket holds its whole burst; each take removes exactly one token.
    const bucket = new TokenBucket(10, 5, 0);
    expect(bucket.tokens(0)).toBe(5);
    bucket.take(0);
    bucket.take(0);
    expect(bucket.tokens(0)).toBe(3);
  });

  it('refills lazily at the rate and never beyond the burst', () => {
    // 10 tokens/s: 250 ms brings back 2.5 tokens; a long wait stops at the burst.
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) bucket.take(0);
    expect(bucket.tokens(0)).toBe(0);
    expect(bucket.tokens(250)).toBeCloseTo(2.5, 9);
    expect(bucket.tokens(60_000)).toBe(5);
  });

  it('honours the floor in canTake', () => {
    // With 3 tokens, a take is allowed only if it leaves at least `floor` tokens.
    const bucket = new TokenBucket(1, 3, 0);
    expect(bucket.canTake(0, 0)).toBe(true);
    expect(bucket.canTake(0, 2)).toBe(true);
    expect(bucket.canTake(0, 2.5)).toBe(false);
    bucket.take(0);
    expect(bucket.canTake(0, 2)).toBe(false);
    expect(bucket.canTake(0, 1)).toBe(true);
  });

  it('admits a take at exactly the moment msUntilAvailable names, not a millisecond earlier', () => {
    // 3 tokens/s leaves fractional fills; the wait it reports must be exact despite rounding.
    const bucket = new TokenBucket(3, 2, 0);
    bucket.take(0);
    bucket.take(0);
    const wait = bucket.msUntilAvailable(0, 0);
    expect(wait).toBeCloseTo(1000 / 3, 6);
    expect(bucket.canTake(wait - 1, 0)).toBe(false);
    expect(bucket.canTake(wait, 0)).toBe(true);
  });

  it('reports the wait for a floor, zero when available, and Infinity when the floor leaves no room', () => {
    // floor 4 of burst 10 needs 5 tokens; at 2 tokens/s from empty that is 2.5 s.
    const bucket = new TokenBucket(2, 10, 0);
    expect(bucket.msUntilAvailable(0, 4)).toBe(0);
    for (let i = 0; i < 10; i++) bucket.take(0);
    expect(bucket.msUntilAvailable(0, 4)).toBeCloseTo(2500, 6);
    expect(bucket.msUntilAvailable(1000, 4)).toBeCloseTo(1500, 6);
    expect(bucket.msUntilAvailable(0, 9.5)).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps the current fill across reconfigure, clamped to the new burst, and refills at the new rate', () => {
    // Fill earned at the old rate stays; a smaller burst clamps it; later refill uses the new rate.
    const bucket = new TokenBucket(10, 20, 0);
    for (let i = 0; i < 15; i++) bucket.take(0);
    bucket.reconfigure(100, 50, 100);
    expect(bucket.tokens(100)).toBeCloseTo(6, 9);
    expect(bucket.tokens(200)).toBeCloseTo(16, 9);
    bucket.reconfigure(100, 8, 200);
    expect(bucket.tokens(200)).toBe(8);
  });

  it('ignores a clock that steps backwards', () => {
    // An earlier timestamp neither refills nor rewinds the refill point.
    const bucket = new TokenBucket(10, 10, 1000);
    for (let i = 0; i < 10; i++) bucket.take(1000);
    expect(bucket.tokens(500)).toBe(0);
    expect(bucket.tokens(1100)).toBeCloseTo(1, 9);
  });

  it('lets a burst below one token still admit one request', () => {
    // A fractional burst could otherwise never yield a whole token.
    const bucket = new TokenBucket(1, 0.5, 0);
    expect(bucket.canTake(0, 0)).toBe(true);
    expect(bucket.burst).toBe(1);
  });

  it('never hands out more than rate * seconds + burst, whatever the arrival pattern', () => {
    // Property: for any rate, burst and sequence of attempts, takes <= rate * elapsed + burst.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 2000 }),
        (rate, burst, gaps) => {
          const bucket = new TokenBucket(rate, burst, 0);
          let now = 0;
          let taken = 0;
          for (const gap of gaps) {
            now += gap;
            if (bucket.canTake(now, 0)) {
              bucket.take(now);
              taken += 1;
            }
            expect(taken).toBeLessThanOrEqual((rate * now) / 1000 + burst);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps refill that overflows a full bucket as spare tokens, up to a whole burst', () => {
    // 10 tokens/s into a full bucket of 4: 100 ms later 1 spare token; a long wait stops at 4.
    const bucket = new TokenBucket(10, 4, 0);
    expect(bucket.canTakeSpare(0)).toBe(false);
    expect(bucket.spareTokens(100)).toBeCloseTo(1, 9);
    expect(bucket.canTakeSpare(100)).toBe(true);
    bucket.takeSpare(100);
    expect(bucket.tokens(100)).toBe(4);
    expect(bucket.spareTokens(60_000)).toBe(4);
  });

  it('makes spare only from refill that found the bucket full', () => {
    // A bucket 2 tokens short first refills itself; only the refill beyond the burst becomes spare.
    const bucket = new TokenBucket(10, 4, 0);
    bucket.take(0);
    bucket.take(0);
    expect(bucket.spareTokens(200)).toBeCloseTo(0, 9);
    expect(bucket.tokens(300)).toBe(4);
    expect(bucket.spareTokens(300)).toBeCloseTo(1, 9);
    bucket.empty(300);
    expect(bucket.spareTokens(300)).toBe(0);
  });
});
