import { describe, expect, it } from 'vitest';
import { KnownValues } from '../../src/replay/known-values.js';

// The values the in-place reader recognises by their bytes (region, outcome, priority, method).
describe('KnownValues', () => {
  const find = (values: KnownValues, text: string) => {
    const b = Buffer.from(text);
    return values.find(b, new DataView(b.buffer, b.byteOffset, b.length), 0, b.length);
  };

  // A value is recognised with its quote and the next key's `,"`, over all its bytes, however long.
  it('recognises only whole values', () => {
    const values = new KnownValues();
    const long = 'a-value-longer-than-twenty-bytes';
    for (const value of ['a', 'us-east', long]) {
      const b = Buffer.from(`${value}","`);
      values.learn(b, 0, value.length, false);
    }
    expect(find(values, 'a","status')).toBe(0);
    expect(find(values, 'us-east","')).toBe(1);
    expect(find(values, `${long}","`)).toBe(2);
    expect(values.strings).toEqual(['a', 'us-east', long]);
    for (const text of ['ab","', 'a",', 'us-eas","', 'us-east"}', `${long}x","`, `${long.slice(0, -1)}","`])
      expect(find(values, text)).toBe(-1);
  });

  // Values sharing their first four bytes share the slot the likely value is looked up by.
  it('finds every value among ones that begin alike, whichever was learnt first', () => {
    const values = new KnownValues();
    const names = ['eu-west-1', 'eu-west-2', 'eu-w', 'eu-west-10', 'us-east'];
    for (const name of names) values.learn(Buffer.from(`${name}","`), 0, name.length, false);
    names.forEach((name, id) => {
      expect(find(values, `${name}","path`), name).toBe(id);
    });
    for (const text of ['eu-west-3","', 'eu-west-1x","', 'eu-","', 'eu-west-1"}'])
      expect(find(values, text)).toBe(-1);
  });
});
