import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientLimiter } from '../../../src/admission/client-limiter.js';

describe('ClientLimiter', () => {
  it('allows a burst per client, then the refill rate', () => {
    // burst 3, 2 tokens/s: three at once, then one more after 500 ms.
    let now = 0;
    const limiter = new ClientLimiter({ rps: 2, burst: 3, maxKeys: 10 }, () => now);
    expect([1, 2, 3, 4].map(() => limiter.tryTake('a'))).toEqual([true, true, true, false]);
    now = 499;
    expect(limiter.tryTake('a')).toBe(false);
    now = 500;
    expect(limiter.tryTake('a')).toBe(true);
    expect(limiter.tryTake('a')).toBe(false);
  });

  it('keeps each client to its own bucket', () => {
    // One client exhausting its tokens does not affect another.
    const limiter = new ClientLimiter({ rps: 1, burst: 1, maxKeys: 10 }, () => 0);
    expect(limiter.tryTake('a')).toBe(true);
    expect(limiter.tryTake('a')).toBe(false);
    expect(limiter.tryTake('b')).toBe(true);
  });

  it('rounds Retry-After up to whole seconds and never below 1', () => {
    // At 0.25 tokens/s an empty bucket needs 4 s; a client with tokens, or an unknown one, gets 1.
    let now = 0;
    const limiter = new ClientLimiter({ rps: 0.25, burst: 1, maxKeys: 10 }, () => now);
    expect(limiter.retryAfterSeconds('nobody')).toBe(1);
    limiter.tryTake('a');
    expect(limiter.retryAfterSeconds('a')).toBe(4);
    now = 1;
    expect(limiter.retryAfterSeconds('a')).toBe(4);
    now = 1000;
    expect(limiter.retryAfterSeconds('a')).toBe(3);
    now = 10_000;
    expect(limiter.retryAfterSeconds('a')).toBe(1);
  });

  it('stays bounded at maxKeys under a flood of distinct keys', () => {
    // 200k distinct keys never hold more than maxKeys entries.
    const limiter = new ClientLimiter({ rps: 1, burst: 1, maxKeys: 1000 }, () => 0);
    let refused = 0;
    for (let i = 0; i < 200_000; i++) if (!limiter.tryTake(`key-${i}`)) refused += 1;
    // Every key is new, so every one has its full burst.
    expect(refused).toBe(0);
    expect(limiter.size).toBeLessThanOrEqual(1000);
    expect(limiter.size).toBe(1000);
    // Forgotten clients' places are reused: memory stays bounded too.
    expect(limiter.slotCount).toBeLessThanOrEqual(1001);
    limiter.reconfigure({ rps: 1, burst: 1, maxKeys: 10 });
    limiter.reconfigure({ rps: 1, burst: 1, maxKeys: 1000 });
    for (let i = 0; i < 5000; i++) limiter.tryTake(`again-${i}`);
    expect(limiter.slotCount).toBeLessThanOrEqual(1001);
  });

  it('forgets the least recently seen client first', () => {
    // A client seen recently keeps its empty bucket while an idle one is evicted.
    const limiter = new ClientLimiter({ rps: 1, burst: 1, maxKeys: 2 }, () => 0);
    limiter.tryTake('busy');
    limiter.tryTake('idle');
    limiter.tryTake('busy');
    limiter.tryTake('new');
    expect(limiter.tryTake('busy')).toBe(false);
    expect(limiter.tryTake('idle')).toBe(true);
  });

  it('applies new limits on reconfigure, keeping what each client has left', () => {
    // A smaller burst clamps existing buckets; a smaller maxKeys keeps the most recent clients.
    let now = 0;
    const limiter = new ClientLimiter({ rps: 1, burst: 10, maxKeys: 10 }, () => now);
    for (let i = 0; i < 5; i++) limiter.tryTake('a');
    limiter.tryTake('b');
    limiter.tryTake('c');
    limiter.reconfigure({ rps: 10, burst: 2, maxKeys: 2 });
    expect(limiter.size).toBe(2);
    expect([1, 2, 3].map(() => limiter.tryTake('c'))).toEqual([true, true, false]);
    now = 100;
    expect(limiter.tryTake('c')).toBe(true);
  });

  // A forgotten client's place is reused for a new one, which starts full, and never for a client
  // still kept (after eviction, and after a smaller maxKeys drops clients).
  it("gives a new client a fresh bucket in a forgotten one's place", () => {
    const limiter = new ClientLimiter({ rps: 1, burst: 2, maxKeys: 2 }, () => 0);
    const drain = (key: string) => [1, 2, 3].map(() => limiter.tryTake(key));
    expect(drain('a')).toEqual([true, true, false]);
    expect(drain('b')).toEqual([true, true, false]);
    expect(drain('c')).toEqual([true, true, false]);
    expect(limiter.tryTake('b')).toBe(false);
    limiter.reconfigure({ rps: 1, burst: 2, maxKeys: 3 });
    expect(drain('d')).toEqual([true, true, false]);
    limiter.reconfigure({ rps: 1, burst: 2, maxKeys: 2 });
    limiter.reconfigure({ rps: 1, burst: 2, maxKeys: 5 });
    expect(limiter.tryTake('e')).toBe(true);
    expect(limiter.tryTake('f')).toBe(true);
    // d and b were kept (c, the least recent, was dropped): still empty.
    expect([limiter.tryTake('d'), limiter.tryTake('b')]).toEqual([false, false]);
    expect([limiter.tryTake('e'), limiter.tryTake('e'), limiter.tryTake('f')]).toEqual([true, false, true]);
  });

  // Against a plain model (a Map kept in recency order by delete and set): the same answers,
  // through evictions and shrinking or growing maxKeys.
  it('answers as a least-recently-used map of buckets would', () => {
    const step = fc.oneof(
      fc.record({ key: fc.integer({ min: 0, max: 9 }), dt: fc.integer({ min: 0, max: 700 }) }),
      fc.record({ maxKeys: fc.integer({ min: 1, max: 6 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        let now = 0;
        const limiter = new ClientLimiter({ rps: 2, burst: 3, maxKeys: 4 }, () => now);
        const model = new Map<string, { tokens: number; at: number }>();
        let maxKeys = 4;
        for (const s of steps) {
          if ('maxKeys' in s) {
            maxKeys = s.maxKeys;
            limiter.reconfigure({ rps: 2, burst: 3, maxKeys });
            while (model.size > maxKeys) model.delete(model.keys().next().value!);
            continue;
          }
          now += s.dt;
          const key = `c${s.key}`;
          let bucket = model.get(key);
          model.delete(key);
          if (bucket === undefined && model.size >= maxKeys) model.delete(model.keys().next().value!);
          bucket ??= { tokens: 3, at: now };
          bucket.tokens = Math.min(3, bucket.tokens + ((now - bucket.at) * 2) / 1000);
          bucket.at = now;
          model.set(key, bucket);
          const expected = bucket.tokens + 1e-9 >= 1;
          if (expected) bucket.tokens -= 1;
          expect(limiter.tryTake(key)).toBe(expected);
        }
        expect(limiter.size).toBe(model.size);
      }),
      { numRuns: 500 },
    );
  });
});
