import { describe, expect, it } from 'vitest';
import { PRIORITIES, type Priority } from '../../../src/admission/priority.js';
import { type AdmissionLimits, RegionAdmission } from '../../../src/admission/region-admission.js';
import { fakeClock, simulate } from '../../support/admission-sim.js';

const LIMITS: AdmissionLimits = {
  rps: 100,
  burst: 50,
  maxConcurrent: 100,
  reserves: { high: 0.1, normal: 0.25, low: 0.5 },
  retryAfterSeconds: 1,
  surge: { factor: 2, halfLifeMs: 60_000, minRps: 10, windowMs: 5000, baselineRps: 20 },
};

/** Offers 20 req/s for a minute and then 1000 req/s until the region surges; returns the time reached. */
function provokeSurge(admission: RegionAdmission, setNow: (t: number) => void): number {
  let now = 0;
  for (; now < 60_000 || !admission.surge.surging; now += 1) {
    if (now > 120_000) throw new Error('no surge');
    setNow(now);
    if (now < 60_000 ? now % 50 === 0 : true) admission.recordShed();
    if (now % 1000 === 0) admission.tick();
  }
  return now;
}

describe('RegionAdmission', () => {
  it('never admits more than rps * seconds + burst under a 10x flood of random priorities', () => {
    // At every millisecond of a 10 s run at 10x capacity, admissions stay within the bucket's bound.
    for (const seed of [1, 2, 3]) {
      const { clock, setNow } = fakeClock();
      let excess = Number.NEGATIVE_INFINITY;
      const admission = new RegionAdmission(LIMITS, clock);
      const tally = simulate(
        {
          admission,
          offered: { critical: 250, high: 250, normal: 250, low: 250 },
          seconds: 10,
          holdMs: (random) => 1 + Math.floor(random() * 50),
          seed,
          onStep: (now, admitted) => {
            excess = Math.max(excess, admitted - ((LIMITS.rps * now) / 1000 + LIMITS.burst));
          },
        },
        setNow,
      );
      expect(excess).toBeLessThanOrEqual(0);
      const admitted = PRIORITIES.reduce((sum, p) => sum + tally.admitted[p], 0);
      expect(admitted).toBeLessThanOrEqual(LIMITS.rps * 10 + LIMITS.burst);
      // The bound is not met by wasting capacity: nearly every token is used.
      expect(admitted).toBeGreaterThan(LIMITS.rps * 10 * 0.95);
    }
  });

  it('admits every critical request offered at 80% of rps during a 10x low flood', () => {
    // The low reserve keeps half the bucket for the rest; critical below rps never meets an empty bucket.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission(
      { ...LIMITS, surge: { ...LIMITS.surge, shedBelow: 'normal' } },
      clock,
    );
    const tally = simulate(
      {
        admission,
        offered: { critical: 80, low: 1000 },
        seconds: 30,
        holdMs: (random) => 20 + Math.floor(random() * 200),
      },
      setNow,
    );
    expect(tally.admitted.critical).toBeGreaterThan(2000);
    expect(tally.shed.critical).toBe(0);
    expect(tally.shed.low).toBeGreaterThan(20_000);
  });

  it('sheds low before normal before high before critical as the bucket drains', () => {
    // At every fill level, the priorities still admitted are a prefix of critical, high, normal, low.
    // Short of tokens (critical offered at the refill rate), the configured floors apply; with the
    // region within capacity, every priority but critical may borrow all but critical's share.
    const firstShedAt = (short: boolean) => {
      const firstShed = new Map<Priority, number>();
      for (let spent = 0; spent <= LIMITS.burst; spent++) {
        const admitted = PRIORITIES.map((priority) => {
          const admission = new RegionAdmission(LIMITS, () => 0);
          if (short) for (let i = 0; i < LIMITS.rps; i++) admission.recordShed();
          if (short) admission.admit('critical', true);
          for (let i = short ? 1 : 0; i < spent; i++) admission.bucket.take(0);
          return admission.admit(priority, true) === null;
        });
        const firstRefused = admitted.indexOf(false);
        if (firstRefused !== -1) expect(admitted.slice(firstRefused).every((ok) => !ok)).toBe(true);
        PRIORITIES.forEach((priority, rank) => {
          if (!admitted[rank] && !firstShed.has(priority)) firstShed.set(priority, spent);
        });
      }
      return PRIORITIES.map((p) => firstShed.get(p));
    };
    // Floors of 0, 5, 12.5 and 25 tokens out of 50: each priority stops once its next take would dip below.
    expect(firstShedAt(true)).toEqual([50, 45, 37, 25]);
    expect(firstShedAt(false)).toEqual([50, 45, 45, 45]);
  });

  it('sheds lower priorities more under a mixed overload', () => {
    // With each priority offered at 40% of rps, the lower the priority the larger its shed share.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission(LIMITS, clock);
    const tally = simulate(
      { admission, offered: { critical: 40, high: 40, normal: 40, low: 40 }, seconds: 20, holdMs: () => 5 },
      setNow,
    );
    const shedShare = PRIORITIES.map((p) => tally.shed[p] / (tally.shed[p] + tally.admitted[p]));
    expect(shedShare[0]).toBe(0);
    expect(shedShare[1]).toBeLessThanOrEqual(shedShare[2]!);
    expect(shedShare[2]).toBeLessThan(shedShare[3]!);
    expect(shedShare[3]).toBeGreaterThan(0.9);
  });

  it('sheds for concurrency without spending a token', () => {
    // A request refused for lack of slots leaves the bucket as it was.
    const { clock } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, maxConcurrent: 4 }, clock);
    for (let i = 0; i < 3; i++) expect(admission.admit('low', true)).toBeNull();
    const tokens = admission.bucket.tokens(0);
    expect(admission.admit('low', true)).toBe('concurrency');
    expect(admission.bucket.tokens(0)).toBe(tokens);
    expect(admission.admit('critical', true)).toBeNull();
    expect(admission.admit('critical', true)).toBe('concurrency');
    expect(admission.inflight.inflight).toBe(4);
  });

  it('checks the rate before concurrency, and both only after the surge policy', () => {
    // With no tokens and no slots, the reason is rate; while surging with shedBelow, it is surge.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission(
      { ...LIMITS, burst: 2, maxConcurrent: 2, surge: { ...LIMITS.surge, shedBelow: 'high' } },
      clock,
    );
    const now = provokeSurge(admission, setNow);
    expect(admission.admit('critical', true)).toBeNull();
    expect(admission.admit('critical', true)).toBeNull();
    expect(admission.admit('critical', true)).toBe('rate');
    expect(admission.admit('normal', true)).toBe('surge');
    setNow(now + 10_000);
    expect(admission.admit('high', true)).toBe('concurrency');
  });

  it('lets shadow mode through: shed decisions take a slot but no token', () => {
    // enforce=false reports the same reason but the request goes on, holding a slot to be released.
    const { clock } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, burst: 2 }, clock);
    expect(admission.admit('critical', false)).toBeNull();
    expect(admission.admit('critical', false)).toBeNull();
    expect(admission.bucket.tokens(0)).toBe(0);
    expect(admission.admit('critical', false)).toBe('rate');
    expect(admission.admit('low', false)).toBe('rate');
    expect(admission.bucket.tokens(0)).toBe(0);
    expect(admission.inflight.inflight).toBe(4);
    for (let i = 0; i < 4; i++) admission.release();
    expect(admission.inflight.inflight).toBe(0);
  });

  it('admits spillover from spare tokens only, and counts it as admitted but never as offered', () => {
    // Failover spends refill the region's own traffic left unused; it is not this region's surge.
    let now = 0;
    const admission = new RegionAdmission(LIMITS, () => now);
    expect(admission.admitSpillover()).toBe(false);
    now = 100;
    // 100 ms of refill at 100 req/s overflowed the full bucket: 10 spare tokens.
    for (let i = 0; i < 10; i++) expect(admission.admitSpillover()).toBe(true);
    expect(admission.admitSpillover()).toBe(false);
    expect(admission.bucket.tokens(now)).toBe(50);
    expect(admission.inflight.inflight).toBe(10);
    expect(admission.admit('normal', true)).toBeNull();
    now = 500;
    const rates = admission.snapshot();
    expect(rates.admittedRps).toBeCloseTo(11, 6);
    expect(rates.currentRps).toBeCloseTo(1, 6);
  });

  it('refuses spillover while surging with shedBelow above low, and allows it otherwise', () => {
    // A region that is itself surging and shedding its own low traffic takes no one else's.
    const surgeOf = (shedBelow: Priority) => {
      const { clock, setNow } = fakeClock();
      const admission = new RegionAdmission({ ...LIMITS, surge: { ...LIMITS.surge, shedBelow } }, clock);
      provokeSurge(admission, setNow);
      return admission.admitSpillover();
    };
    expect(surgeOf('normal')).toBe(false);
    expect(surgeOf('low')).toBe(true);
  });

  it('rounds Retry-After up to whole seconds for the priority floor, with the configured minimum', () => {
    // At 2 tokens/s from empty: critical needs 1 token (0.5 s -> 1), low needs 26 (13 s -> 13).
    let now = 0;
    const admission = new RegionAdmission({ ...LIMITS, rps: 2 }, () => now);
    while (admission.bucket.tokens(0) >= 1) admission.bucket.take(0);
    // Critical offered above the refill rate: the region is short of tokens, the full floors apply.
    for (let i = 0; i < 3; i++) expect(admission.admit('critical', true)).toBe('rate');
    expect(admission.retryAfterSeconds('critical')).toBe(1);
    expect(admission.retryAfterSeconds('low')).toBe(13);
    now = 1;
    expect(admission.retryAfterSeconds('low')).toBe(13);
    now = 1000;
    // Critical, still offered, takes one of the two tokens refilled: 25 missing at 2/s is 12.5 s -> 13.
    expect(admission.admit('critical', true)).toBeNull();
    expect(admission.retryAfterSeconds('low')).toBe(13);
    now = 1001;
    expect(admission.retryAfterSeconds('low')).toBe(13);
    admission.reconfigure({ ...LIMITS, rps: 2, retryAfterSeconds: 20 });
    expect(admission.retryAfterSeconds('low')).toBe(20);
  });

  it('counts admitted, shed and externally shed requests in the snapshot', () => {
    // recordShed adds to the shed rate and to the offered rate, not to the admitted rate.
    let now = 0;
    const admission = new RegionAdmission({ ...LIMITS, burst: 3 }, () => now);
    for (let i = 0; i < 5; i++) admission.admit('critical', true);
    admission.recordShed();
    now = 999;
    const snapshot = admission.snapshot();
    expect(snapshot.admittedRps).toBeCloseTo(3, 6);
    expect(snapshot.shedRps).toBeCloseTo(3, 6);
    expect(snapshot.currentRps).toBeCloseTo(6, 6);
    expect(snapshot.inflight).toBe(3);
    expect(snapshot.inflightLimit).toBe(LIMITS.maxConcurrent);
    expect(snapshot.surging).toBe(false);
  });

  it('keeps tokens, in-flight requests and the baseline across reconfigure', () => {
    // A reload applies new limits to live state instead of starting over.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission(
      { ...LIMITS, maxConcurrent: 5000, surge: { ...LIMITS.surge, baselineRps: 60 } },
      clock,
    );
    simulate({ admission, offered: { normal: 60 }, seconds: 30, holdMs: () => 1_000_000 }, setNow);
    const before = admission.snapshot();
    admission.reconfigure({ ...LIMITS, rps: 1000, burst: 500, maxConcurrent: 10_000 });
    const after = admission.snapshot();
    expect(after.tokens).toBe(before.tokens);
    expect(after.inflight).toBe(before.inflight);
    expect(after.inflight).toBeGreaterThan(1000);
    expect(after.inflightLimit).toBe(10_000);
    expect(after.baselineRps).toBe(before.baselineRps);
    expect(after.baselineRps).toBeCloseTo(60, -1);
  });

  it('keeps the priority order even when reserves are configured out of order', () => {
    // A low reserve smaller than normal's is raised to normal's, so low never outranks normal.
    const { clock } = fakeClock();
    const admission = new RegionAdmission(
      { ...LIMITS, reserves: { high: 0.4, normal: 0.2, low: 0.1 } },
      clock,
    );
    expect(admission.tokenFloor('normal')).toBe(admission.tokenFloor('high'));
    expect(admission.tokenFloor('low')).toBe(admission.tokenFloor('high'));
    expect(admission.tokenFloor('high')).toBe(20);
  });

  it('keeps every floor at least one token below the burst', () => {
    // A tiny burst must not lock a priority out for good (and Retry-After must stay finite).
    const { clock } = fakeClock();
    const admission = new RegionAdmission(
      { ...LIMITS, burst: 1.5, reserves: { high: 0.9, normal: 0.9, low: 0.9 } },
      clock,
    );
    expect(admission.tokenFloor('low')).toBeCloseTo(0.5, 9);
    expect(admission.admit('low', true)).toBeNull();
    expect(Number.isFinite(admission.retryAfterSeconds('low'))).toBe(true);
  });
});
