import { describe, expect, it } from 'vitest';
import { InternedStrings } from '../../src/replay/interned-strings.js';

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
          expect(strings.internHashed(bytes, 1, 1 + length, 7), `${value} round ${round}`).toBe(value);
        }
      }
    }
  });
});
