import { describe, expect, it } from 'vitest';
import { LruSlots } from '../../../src/admission/lru-slots.js';

describe('LruSlots', () => {
  it('gives up the least recently used key first; a get refreshes a key, a peek does not', () => {
    const lru = new LruSlots(3);
    const a = lru.add('a');
    lru.add('b');
    lru.add('c');
    expect(lru.get('a')).toBe(a);
    expect(lru.peek('b')).toBeGreaterThanOrEqual(0);
    lru.add('d');
    expect(lru.peek('b')).toBe(-1);
    expect(lru.size).toBe(3);
    expect([...lru.slots()].map((slot) => lru.keyAt(slot))).toEqual(['d', 'a', 'c']);
  });

  it('grows past its first capacity up to max and reuses the evicted slot', () => {
    const lru = new LruSlots(5000);
    for (let i = 0; i < 5000; i++) lru.add(`k${i}`);
    expect(lru.capacity).toBe(5000);
    const oldest = lru.peek('k0');
    expect(lru.add('new')).toBe(oldest);
    expect(lru.peek('k0')).toBe(-1);
    expect(lru.get('k1')).toBeGreaterThanOrEqual(0);
    lru.add('newer');
    expect(lru.peek('k1')).toBeGreaterThanOrEqual(0);
    expect(lru.peek('k2')).toBe(-1);
  });
});
