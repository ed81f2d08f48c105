import { describe, expect, it } from 'vitest';
import { InflightLimiter } from '../../../src/admission/inflight-limiter.js';

function fill(limiter: InflightLimiter, reserve: number): number {
  let acquired = 0;
  while (limiter.canAcquire(reserve)) {
    limiter.acquire();
    acquired += 1;
  }
  return acquired;
}

describe('InflightLimiter', () => {
  it('keeps the reserved slots free for higher priorities', () => {
    // With limit 10, reserve 0.5 stops at 5 in flight, 0.3 at 7, and critical fills the rest.
    const limiter = new InflightLimiter(10);
    expect(fill(limiter, 0.5)).toBe(5);
    expect(fill(limiter, 0.3)).toBe(2);
    expect(limiter.canAcquire(0.1)).toBe(true);
    expect(fill(limiter, 0)).toBe(3);
    expect(limiter.inflight).toBe(10);
    expect(limiter.canAcquire(0)).toBe(false);
  });

  it('lets a reserved priority back in once slots are released', () => {
    // Releases free slots below the reserve line again.
    const limiter = new InflightLimiter(4);
    expect(fill(limiter, 0)).toBe(4);
    expect(limiter.canAcquire(0.5)).toBe(false);
    limiter.release();
    limiter.release();
    expect(limiter.canAcquire(0.5)).toBe(false);
    limiter.release();
    expect(limiter.canAcquire(0.5)).toBe(true);
  });

  it('never drops below zero on extra releases', () => {
    // A double release must not open a slot that was never taken.
    const limiter = new InflightLimiter(2);
    limiter.acquire();
    limiter.release();
    limiter.release();
    limiter.release();
    expect(limiter.inflight).toBe(0);
    expect(fill(limiter, 0)).toBe(2);
  });

  it('follows setLimit and keeps requests already in flight', () => {
    // Shrinking below the in-flight count blocks new requests until enough have finished.
    const limiter = new InflightLimiter(8);
    fill(limiter, 0);
    limiter.setLimit(4);
    expect(limiter.limit).toBe(4);
    expect(limiter.inflight).toBe(8);
    expect(limiter.canAcquire(0)).toBe(false);
    for (let i = 0; i < 5; i++) limiter.release();
    expect(limiter.canAcquire(0)).toBe(true);
  });

  it('gives every priority at least one slot when the cap is tiny', () => {
    // floor(1 * 0.75) would be 0: an idle region must still take a normal request.
    const limiter = new InflightLimiter(1);
    expect(limiter.slotsFor(0.25)).toBe(1);
    expect(limiter.canAcquire(0.5)).toBe(true);
    expect(new InflightLimiter(0).canAcquire(0.5)).toBe(false);
  });

  it('does not lose a slot to floating-point rounding', () => {
    // 10 * (1 - 0.3) is 6.999... in binary; it must count as 7 slots.
    expect(new InflightLimiter(10).slotsFor(0.3)).toBe(7);
    expect(new InflightLimiter(100).slotsFor(0.7)).toBe(30);
  });
});
