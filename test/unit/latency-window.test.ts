import { describe, expect, it } from 'vitest';
import { LatencyWindow } from '../../src/observability/latency-window.js';

describe('LatencyWindow', () => {
  it('reports zero percentiles while empty', () => {
    // An idle region shows 0 ms rather than NaN or a stale value.
    const window = new LatencyWindow(8);
    expect(window.percentiles()).toEqual({ p50Ms: 0, p99Ms: 0 });
    expect(window.size).toBe(0);
  });

  it('computes nearest-rank p50 and p99 over the samples recorded', () => {
    // With 1..100 ms recorded in shuffled order, p50 is 50 and p99 is 99.
    const window = new LatencyWindow(128);
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    for (let i = values.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
    for (const v of values) window.record(v);
    expect(window.percentiles()).toEqual({ p50Ms: 50, p99Ms: 99 });
    expect(window.percentile(100)).toBe(100);
  });

  it('forgets the oldest samples once the ring is full', () => {
    // After 4 slow samples are overwritten by 4 fast ones, only the fast ones count.
    const window = new LatencyWindow(4);
    for (const v of [900, 900, 900, 900, 1, 2, 3, 4]) window.record(v);
    expect(window.size).toBe(4);
    expect(window.percentiles()).toEqual({ p50Ms: 2, p99Ms: 4 });
  });

  it('keeps recording in order after a read', () => {
    // Reading sorts a copy, so the ring's order (and what gets overwritten next) is unchanged.
    const window = new LatencyWindow(3);
    for (const v of [30, 10, 20]) window.record(v);
    expect(window.percentile(50)).toBe(20);
    window.record(5); // overwrites 30, the oldest
    expect(window.percentile(100)).toBe(20);
  });

  it('rejects a size that is not a positive integer', () => {
    // A zero-length ring would divide by zero on every record.
    expect(() => new LatencyWindow(0)).toThrow(RangeError);
    expect(() => new LatencyWindow(2.5)).toThrow(RangeError);
  });

  it('starts over after clear()', () => {
    // A cleared window reports nothing until new samples arrive.
    const window = new LatencyWindow(4);
    window.record(10);
    window.clear();
    expect(window.percentiles()).toEqual({ p50Ms: 0, p99Ms: 0 });
    window.record(7);
    expect(window.percentiles()).toEqual({ p50Ms: 7, p99Ms: 7 });
  });
});
