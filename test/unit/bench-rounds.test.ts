import { describe, expect, it } from 'vitest';
import type { ClosedLoopResult } from '../../bench/load.js';
import { mergeRounds, roundBudget, roundOrder, roundRatios } from '../../bench/rounds.js';

function result(requests: number, durationSec: number, p99: number): ClosedLoopResult {
  return {
    requests,
    durationSec,
    rps: requests / durationSec,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2, mean: p99 / 3 },
    statuses: { '503': requests },
    errors: 0,
    timeouts: 0,
  };
}

describe('throughput rounds', () => {
  it('splits a time budget, or a count budget, over the rounds', () => {
    expect(roundBudget({ durationSec: 8 })).toEqual({ durationSec: 2 });
    expect(roundBudget({ durationSec: 15, amount: 500 })).toEqual({ durationSec: 15, amount: 125 });
  });

  it('alternates the order from one round to the next', () => {
    expect([0, 1, 2].map((round) => roundOrder(['a', 'b', 'c'], round))).toEqual([
      ['a', 'b', 'c'],
      ['c', 'b', 'a'],
      ['a', 'b', 'c'],
    ]);
  });

  // A slow round drags both targets down: the ratio within rounds stays put where totals would not.
  it('takes ratios within rounds, and merges rounds into totals and median latencies', () => {
    const a = [result(2000, 2, 10), result(1000, 2, 30), result(2000, 2, 12), result(2000, 2, 14)];
    const b = [result(4000, 2, 5), result(2000, 2, 9), result(4000, 2, 6), result(4000, 2, 7)];
    expect(roundRatios(a, b)).toEqual({ median: 0.5, min: 0.5, max: 0.5, each: [0.5, 0.5, 0.5, 0.5] });
    const merged = mergeRounds(a);
    expect(merged.requests).toBe(7000);
    expect(merged.rps).toBe(875);
    expect(merged.latencyMs.p99).toBe(13);
    expect(merged.latencyMs.max).toBe(60);
    expect(merged.statuses['503']).toBe(7000);
  });
});
