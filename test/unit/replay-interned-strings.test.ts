import { describe, expect, it } from 'vitest';
import { bytesHash, FIRST_TABLE_IDS, InternedStrings, NO_ID } from '../../src/replay/interned-strings.js';

describe('InternedStrings', () => {
  it('gives the same string object for the same bytes, wherever they lie', () => {
    const strings = new InternedStrings();
    const a = Buffer.from('x"10.0.0.1"y');
    const b = Buffer.from('"10.0.0.1","10.0.0.2"');
    const first = strings.intern(a, 2, 10);
    expect(first).toBe('10.0.0.1');
    expect(strings.intern(b, 1, 9)).toBe(first);
    expect(strings.intern(b, 12, 20)).toBe('10.0.0.2');
    expect(strings.intern(b, 1, 1)).toBe('');
  });

  it('keeps answering right past its capacity and for long values', () => {
    const strings = new InternedStrings();
    for (let i = 0; i < 200_000; i++) {
      const bytes = Buffer.from(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
      expect(strings.intern(bytes, 0, bytes.length)).toBe(bytes.toString('latin1'));
    }
    const long = Buffer.from('a'.repeat(100));
    expect(strings.intern(long, 0, 100)).toBe('a'.repeat(100));
    // 200,000 expects: about a second alone, several on a busy machine.
  }, 30_000);

  it('tells apart values whose hashes collide, whatever byte they differ in', () => {
    // One hash for every value: only the comparison of bytes can keep them apart.
    const strings = new InternedStrings();
    for (let length = 1; length <= 20; length++) {
      const base = '10.20.30.40.50.60.70'.slice(0, length);
      const values = [base];
      for (let k = 0; k < length; k++) values.push(`${base.slice(0, k)}#${base.slice(k + 1)}`);
      for (const round of [0, 1]) {
        for (const value of values) {
          const bytes = Buffer.from(`"${value}"`, 'latin1');
          expect(strings.value(strings.idHashed(bytes, 1, 1 + length, 7)), `${value} round ${round}`).toBe(
            value,
          );
        }
      }
    }
  });

  // Replay finds a client's bucket by its id, so an id may never stand for two values.
  it('never gives one id to two values, and keeps the first table ids values past a restart', () => {
    const strings = new InternedStrings();
    const owner = new Map<number, string>();
    const firstIds = new Map<string, number>();
    for (let i = 0; i < 150_000; i++) {
      const value = `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
      const bytes = Buffer.from(value);
      const id = strings.idHashed(bytes, 0, bytes.length, bytesHash(bytes, 0, bytes.length));
      if (owner.has(id) && owner.get(id) !== value)
        throw new Error(`id ${id}: ${owner.get(id)} and ${value}`);
      owner.set(id, value);
      if (id < FIRST_TABLE_IDS) firstIds.set(value, id);
    }
    expect([...owner.keys()].some((id) => id >= FIRST_TABLE_IDS)).toBe(true);
    expect(firstIds.size).toBe(FIRST_TABLE_IDS);
    const changed = [...firstIds].filter(([value, id]) => strings.value(id) !== value);
    expect(changed).toEqual([]);
    const long = Buffer.from('a'.repeat(100));
    expect(strings.idHashed(long, 0, 100, bytesHash(long, 0, 100))).toBe(NO_ID);
  }, 30_000);
});
