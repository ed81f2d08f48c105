import { describe, expect, it } from 'vitest';
import { type AdmissionLimits, RegionAdmission } from '../../src/admission/region-admission.js';
import { TokenBucket } from '../../src/admission/token-bucket.js';
import { LocalShare, processShare } from '../../src/cluster/limits-policy.js';

const LIMITS: AdmissionLimits = {
  rps: 100,
  burst: 40,
  maxConcurrent: 1000,
  reserves: { high: 0.1, normal: 0.25, low: 0.5 },
  retryAfterSeconds: 1,
  surge: { factor: 2, halfLifeMs: 60_000, minRps: 10, windowMs: 5000, baselineRps: 100 },
};

function admittedOver(
  admission: RegionAdmission,
  setNow: (t: number) => void,
  ms: number,
  perMs: number,
): number {
  let admitted = 0;
  for (let t = 0; t < ms; t++) {
    setNow(t);
    for (let i = 0; i < perMs; i++) {
      if (admission.admit('critical', true) === null) {
        admitted++;
        admission.release();
      }
    }
  }
  return admitted;
}

describe('TokenBucket deposits', () => {
  it('accepts deposits only up to the burst and reports how many fit', () => {
    // An emptied bucket of burst 5 takes 3 of 3, then only 2 of the next 4.
    const bucket = new TokenBucket(0, 5, 0);
    bucket.empty(0);
    expect(bucket.tokens(0)).toBe(0);
    expect(bucket.deposit(3, 0)).toBe(3);
    expect(bucket.deposit(4, 0)).toBe(2);
    expect(bucket.tokens(1000)).toBe(5);
  });

  it('keeps a debt when emptied, so a deposit first repays it', () => {
    // A bucket taken into debt stays in debt when emptied; the debt is repaid before tokens show.
    const bucket = new TokenBucket(0, 5, 0);
    for (let i = 0; i < 7; i++) bucket.take(0);
    bucket.empty(0);
    expect(bucket.tokens(0)).toBe(-2);
    bucket.deposit(3, 0);
    expect(bucket.tokens(0)).toBe(1);
  });
});

describe('RegionAdmission token supply', () => {
  it('enforces its share of rps and burst with a local share', () => {
    // Half the limits: a 1 s flood admits about burst/2 + rps/2 instead of burst + rps.
    let now = 0;
    const admission = new RegionAdmission(LIMITS, () => now);
    admission.setTokenSupply({ kind: 'local', share: 0.5 });
    const admitted = admittedOver(admission, (t) => (now = t), 1000, 5);
    expect(admitted).toBeGreaterThanOrEqual(LIMITS.burst / 2 + LIMITS.rps / 2 - 1);
    expect(admitted).toBeLessThanOrEqual(LIMITS.burst / 2 + LIMITS.rps / 2 + 1);
  });

  it('keeps the share across a reconfigure', () => {
    // A reload that doubles rps still leaves this process with half of the new rate.
    let now = 0;
    const admission = new RegionAdmission(LIMITS, () => now);
    admission.setTokenSupply({ kind: 'local', share: 0.5 });
    admission.reconfigure({ ...LIMITS, rps: 200 });
    admittedOver(admission, (t) => (now = t), 1000, 5);
    const steady = admittedOver(admission, (t) => (now = 1000 + t), 1000, 5);
    expect(steady).toBeGreaterThanOrEqual(99);
    expect(steady).toBeLessThanOrEqual(101);
  });

  it('spends only deposited tokens when leased, never refilling by the clock', () => {
    // With 10 tokens deposited and an hour passing, exactly 10 requests are admitted.
    let now = 0;
    const admission = new RegionAdmission(LIMITS, () => now);
    admission.setTokenSupply({ kind: 'leased', capacity: 16 });
    admission.bucket.empty(0);
    admission.bucket.deposit(10, 0);
    now = 3_600_000;
    let admitted = 0;
    while (admission.admit('critical', true) === null) admitted++;
    expect(admitted).toBe(10);
  });

  it('scales the priority floors to the leased capacity', () => {
    // Floors follow the bucket size: with capacity 16 the low floor is 8, not 20 (half of burst 40).
    const admission = new RegionAdmission(LIMITS, () => 0);
    admission.setTokenSupply({ kind: 'leased', capacity: 16 });
    expect(admission.tokenFloor('low')).toBe(8);
    expect(admission.tokenFloor('normal')).toBe(4);
    expect(admission.tokenFloor('critical')).toBe(0);
    admission.setTokenSupply({ kind: 'local', share: 1 });
    expect(admission.tokenFloor('low')).toBe(20);
  });

  it('keeps the fill as a fraction of the size when the supply changes', () => {
    // A quarter of 16 leased tokens becomes a quarter of a 10-token share, and back again.
    const admission = new RegionAdmission(LIMITS, () => 0);
    admission.setTokenSupply({ kind: 'leased', capacity: 16 });
    expect(admission.bucket.tokens(0)).toBe(16);
    for (let i = 0; i < 12; i++) admission.admit('critical', true);
    admission.setTokenSupply({ kind: 'local', share: 0.25 });
    expect(admission.bucket.tokens(0)).toBeCloseTo(2.5, 9);
    admission.setTokenSupply({ kind: 'leased', capacity: 16 });
    expect(admission.bucket.tokens(0)).toBeCloseTo(4, 9);
  });

  it('admits the same priorities right after a switch as right before it', () => {
    // 6 of 16 leased tokens admit normal (floor 4) but not low (floor 8); so do 15 of a 40-token bucket.
    const admission = new RegionAdmission(LIMITS, () => 0);
    admission.setTokenSupply({ kind: 'leased', capacity: 16 });
    for (let i = 0; i < 10; i++) admission.admit('critical', true);
    const admissible = () => [
      admission.bucket.canTake(0, admission.tokenFloor('normal')),
      admission.bucket.canTake(0, admission.tokenFloor('low')),
    ];
    expect(admissible()).toEqual([true, false]);
    admission.setTokenSupply({ kind: 'local', share: 1 });
    expect(admission.bucket.tokens(0)).toBeCloseTo(15, 9);
    expect(admissible()).toEqual([true, false]);
  });
});

describe('LocalShare', () => {
  it('gives each of workers x instances processes an equal share', () => {
    // Two workers in each of three instances: each process enforces a sixth.
    expect(processShare(2, 3)).toBeCloseTo(1 / 6, 12);
    expect(processShare(1, 1)).toBe(1);
  });

  it('applies the share to every region of a runtime, new regions included', () => {
    // Both regions of the runtime end up with a quarter of their burst.
    const regions = new Map(
      ['a', 'b'].map((name) => [
        name,
        {
          name,
          admission: new RegionAdmission(LIMITS, () => 0),
          config: { capacity: { rps: 100, burst: 40 } },
        },
      ]),
    );
    new LocalShare(0.25).apply({ regions, config: {} });
    for (const region of regions.values()) expect(region.admission.bucket.burst).toBe(10);
  });
});
