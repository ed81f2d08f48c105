import { describe, expect, it } from 'vitest';
import { isValidRequestId, requestIdFor } from '../../src/request/request-id.js';

describe('request ids', () => {
  // Contract §3: 1 to 128 visible ASCII characters, no spaces.
  it.each([
    ['a', true],
    ['x'.repeat(128), true],
    ['!~"\\', true],
    ['', false],
    ['x'.repeat(129), false],
    ['a b', false],
    ['tab\there', false],
    ['é', false],
  ])('%j valid: %s', (value, valid) => {
    expect(isValidRequestId(value)).toBe(valid);
  });

  it('keeps a valid id and replaces anything else with a fresh, valid, unique one', () => {
    expect(requestIdFor('kept')).toBe('kept');
    const made = new Set([requestIdFor(undefined), requestIdFor('a b'), requestIdFor(['x', 'y'])]);
    expect(made.size).toBe(3);
    for (const id of made) expect(isValidRequestId(id)).toBe(true);
  });
});
