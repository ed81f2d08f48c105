import { describe, expect, it } from 'vitest';
import { type AdmissionLimits, RegionAdmission } from '../../src/admission/region-admission.js';
import { leaseFloor, leaseSize, localCapacity, tokensWanted } from '../../src/cluster/lease-plan.js';

const LIMITS: AdmissionLimits = {
  rps: 1000,
  burst: 200,
  maxConcurrent: 1000,
  reserves: { high: 0.1, normal: 0.25, low: 0.5 },
  retryAfterSeconds: 1,
  surge: { factor: 2, halfLifeMs: 60_000, minRps: 10, windowMs: 5000, baselineRps: 100 },
};

describe('lease plan', () => {
  it.each([
    // rps, burst, configured, expected
    [1000, 1000, undefined, 20],
    [1000, 200, undefined, 12],
    [10, 10, undefined, 1],
    [1000, 5, undefined, 1],
    [1000, 200, 7, 7],
    [1000, 200, 500, 200],
    [0.5, 0.5, undefined, 1],
  ])('sizes a lease for rps %d, burst %d, configured %s as %d', (rps, burst, configured, expected) => {
    // 1/50 of the rate by default, held so four leases stay within a quarter of the burst; the
    // configured size when given, never above the burst; never below 1.
    expect(leaseSize(rps, burst, configured)).toBe(expected);
  });

  it('holds four leases locally', () => {
    // The local capacity leaves room for one lease in flight while three are still held.
    expect(localCapacity(20)).toBe(80);
  });

  it('asks for a whole lease only when it fits', () => {
    // With capacity 80 and leases of 20, 60 tokens leave room; 61 do not.
    expect(tokensWanted(60, 80, 20)).toBe(20);
    expect(tokensWanted(61, 80, 20)).toBe(0);
    expect(tokensWanted(-3, 80, 20)).toBe(20);
  });

  it.each([
    // local tokens held, least important priority they serve, shared floor
    [0, 'critical', 0],
    [8, 'high', 20],
    [20, 'normal', 50],
    [39, 'normal', 50],
    [40, 'low', 100],
    [80, 'low', 100],
  ])('with %d local tokens (serving down to %s) leaves %d of the shared burst', (tokens, _serves, floor) => {
    // Local capacity 80: floors 8, 20, 40 map to 10%, 25%, 50% of the shared burst of 200.
    const admission = new RegionAdmission(LIMITS, () => 0);
    admission.setTokenSupply({ kind: 'leased', capacity: 80 });
    expect(leaseFloor(admission, tokens, LIMITS.burst)).toBeCloseTo(floor, 9);
  });
});
