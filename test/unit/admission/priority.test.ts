import { describe, expect, it } from 'vitest';
import {
  lowerOnly,
  PRIORITIES,
  type Priority,
  parsePriority,
  priorityRank,
  reserveFraction,
} from '../../../src/admission/priority.js';

describe('priorities', () => {
  it('ranks critical first and low last', () => {
    // The rank order is what every reserve and surge rule relies on.
    expect(PRIORITIES.map(priorityRank)).toEqual([0, 1, 2, 3]);
    expect(priorityRank('critical')).toBeLessThan(priorityRank('low'));
  });

  it.each<[string | undefined, Priority | undefined]>([
    ['critical', 'critical'],
    ['low', 'low'],
    ['HIGH', 'high'],
    ['  Normal ', 'normal'],
    ['', undefined],
    ['urgent', undefined],
    ['low,', undefined],
    [undefined, undefined],
  ])('parses %j as %j', (value, expected) => {
    // Names are matched case-insensitively after trimming; anything else is not a priority.
    expect(parsePriority(value)).toBe(expected);
  });

  it.each<[Priority, string | string[] | undefined, Priority]>([
    ['high', undefined, 'high'],
    ['high', 'low', 'low'],
    ['high', 'NORMAL', 'normal'],
    ['normal', 'critical', 'normal'],
    ['low', 'high', 'low'],
    ['critical', 'junk', 'critical'],
    ['high', ['critical', 'low'], 'low'],
    ['high', ['junk', 'normal'], 'normal'],
    ['normal', 'critical, low', 'low'],
    ['normal', 'critical, junk', 'normal'],
    ['critical', [], 'critical'],
  ])('route %s with x-priority %j runs as %s', (route, requested, expected) => {
    // x-priority may only lower the route's priority; raising it or sending junk changes nothing.
    expect(lowerOnly(route, requested)).toBe(expected);
  });

  it('gives critical no reserve and every other priority its configured one', () => {
    // Reserves come straight from config; critical may always use everything.
    const reserves = { high: 0.1, normal: 0.25, low: 0.5 };
    expect(PRIORITIES.map((p) => reserveFraction(p, reserves))).toEqual([0, 0.1, 0.25, 0.5]);
  });
});
