import { describe, expect, it } from 'vitest';
import { type AdmissionLimits, RegionAdmission } from '../../../src/admission/region-admission.js';
import { fakeClock, simulate } from '../../support/admission-sim.js';

// Issue 14: a region that takes another region's failover, and a region offered traffic within its
// capacity. Its own users come first, and nothing within capacity is shed.

const LIMITS: AdmissionLimits = {
  rps: 40,
  burst: 8,
  maxConcurrent: 100,
  reserves: { high: 0.1, normal: 0.25, low: 0.5 },
  retryAfterSeconds: 1,
  surge: { factor: 2, halfLifeMs: 60_000, minRps: 10, windowMs: 5000, baselineRps: 40 },
};

describe('failover into a region', () => {
  it('does not count failover arrivals as the region surging', () => {
    // Own traffic at its usual 20 req/s plus 200 req/s failing over: no surge, current rate is the own 20.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, rps: 1000, burst: 200 }, clock);
    const tally = simulate(
      { admission, offered: { normal: 20 }, failoverRps: 200, seconds: 20, holdMs: () => 20 },
      setNow,
    );
    expect(tally.failover.admitted).toBeGreaterThan(3000);
    expect(admission.surge.surging).toBe(false);
    expect(admission.snapshot().currentRps).toBeLessThan(30);
    // The failover requests are still admitted (and counted) against this region's capacity.
    expect(admission.snapshot().admittedRps).toBeGreaterThan(150);
  });

  it("admits the region's own low traffic first while another region fails over into it", () => {
    // Own notifications at 15 req/s against a 40 req/s limit, with 100 req/s failing over: none of the own are shed.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission(LIMITS, clock);
    const tally = simulate(
      { admission, offered: { low: 15 }, failoverRps: 100, seconds: 30, holdMs: () => 50 },
      setNow,
    );
    expect(tally.admitted.low).toBeGreaterThan(400);
    expect(tally.shed.low).toBe(0);
    // The spare capacity (about 25 req/s) still goes to the failover traffic.
    expect(tally.failover.admitted).toBeGreaterThan(20 * 30);
    expect(tally.failover.admitted + tally.admitted.low).toBeLessThanOrEqual(40 * 30 + 8);
  });

  it('admits exactly the same own traffic, of every priority, with failover as without', () => {
    // Own traffic at 60% of capacity: failover spends only the refill the region's own users leave unused.
    for (const seed of [1, 2, 3]) {
      const run = (failoverRps: number) => {
        const { clock, setNow } = fakeClock();
        const admission = new RegionAdmission(LIMITS, clock);
        return simulate(
          {
            admission,
            offered: { critical: 12, high: 2, normal: 6, low: 4 },
            failoverRps,
            seconds: 30,
            holdMs: (random) => 80 + Math.floor(random() * 80),
            seed,
          },
          setNow,
        );
      };
      const alone = run(0);
      const withFailover = run(40);
      expect(withFailover.admitted, `seed ${seed}`).toEqual(alone.admitted);
      expect(withFailover.shed, `seed ${seed}`).toEqual(alone.shed);
      // The rest of the rate (about 16 req/s) goes to the failover traffic.
      expect(withFailover.failover.admitted, `seed ${seed}`).toBeGreaterThan(12 * 30);
    }
  });

  it('keeps failover out of the slots every priority of the region could still use', () => {
    // With slow failover requests piling up, they stop at the low reserve's line.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, rps: 1000, burst: 1000, maxConcurrent: 20 }, clock);
    // A second of unused refill is spare for failover.
    setNow(1000);
    let failovers = 0;
    while (admission.admitSpillover()) failovers += 1;
    expect(failovers).toBe(10);
    // Every priority of the region's own traffic still gets in.
    for (const priority of ['low', 'normal', 'high', 'critical'] as const)
      expect(admission.admit(priority, true)).toBeNull();
  });

  it('takes no slot for failover while the region is short of slots', () => {
    // Own low traffic fills its lent share and is refused once: the region is short of slots.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, rps: 1000, burst: 1000, maxConcurrent: 20 }, clock);
    setNow(1000);
    while (admission.admit('low', true) === null);
    expect(admission.admit('low', true)).toBe('concurrency');
    // Own requests finish until only 2 of 20 slots are held: failover still waits out the shortage.
    for (let held = admission.inflight.inflight; held > 2; held--) admission.release();
    expect(admission.admitSpillover()).toBe(false);
    // A second later, with no refusal since, the idle slots are spare again.
    setNow(2001);
    expect(admission.admitSpillover()).toBe(true);
  });
});

describe('traffic within capacity', () => {
  it('admits 14 concurrent slow low requests against an in-flight cap of 20', () => {
    // Reserves matter once slots run short, not while 6 of 20 sit idle.
    const { clock } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, maxConcurrent: 20, burst: 40 }, clock);
    const results = Array.from({ length: 14 }, () => admission.admit('low', true));
    expect(results.filter((r) => r !== null)).toEqual([]);
    expect(admission.inflight.inflight).toBe(14);
  });

  it('admits a burst of low requests that fits in the bucket', () => {
    // 80 low requests at once against a full bucket of 100: within capacity, so all are answered.
    const { clock } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, rps: 500, burst: 100 }, clock);
    const results = Array.from({ length: 80 }, () => admission.admit('low', true));
    expect(results.filter((r) => r !== null)).toEqual([]);
  });

  it('still keeps critical from being locked out by a flood of slow low requests', () => {
    // Critical at 10 req/s (about 4.5 in flight), then low floods at 1000 req/s with 0.3-0.6 s upstreams.
    // The slots low borrowed before its first refusal drain within one upstream time; after that
    // critical is never shed, and low stays under its reserve.
    for (const seed of [1, 2, 3]) {
      const { clock, setNow } = fakeClock();
      const admission = new RegionAdmission({ ...LIMITS, rps: 5000, burst: 1000, maxConcurrent: 20 }, clock);
      const criticalShedAt: number[] = [];
      const tally = simulate(
        {
          admission,
          offered: { critical: 10, low: 1000 },
          startsAt: { low: 5000 },
          seconds: 30,
          holdMs: (random) => 300 + Math.floor(random() * 300),
          seed,
          onShed: (now, priority) => {
            if (priority === 'critical') criticalShedAt.push(now);
          },
        },
        setNow,
      );
      expect(tally.admitted.critical, `seed ${seed}`).toBeGreaterThan(250);
      expect(
        criticalShedAt.filter((at) => at >= 5600),
        `seed ${seed}`,
      ).toEqual([]);
      expect(criticalShedAt.length, `seed ${seed}`).toBeLessThan(10);
      expect(tally.shed.low, `seed ${seed}`).toBeGreaterThan(20_000);
    }
  });

  it('holds a low flood to its reserve once the region has run short of slots', () => {
    // After a refusal, low may only fill the slots its reserve leaves; critical finds the rest free.
    const { clock, setNow } = fakeClock();
    const admission = new RegionAdmission({ ...LIMITS, rps: 1000, burst: 1000, maxConcurrent: 20 }, clock);
    let low = 0;
    while (admission.admit('low', true) === null) low += 1;
    expect(low).toBe(18);
    // Eight low requests finish: low may not take their slots back (it may use 10 of 20 while short).
    for (let i = 0; i < 8; i++) admission.release();
    setNow(10);
    expect(admission.admit('low', true)).toBe('concurrency');
    for (let i = 0; i < 10; i++) expect(admission.admit('critical', true)).toBeNull();
    // Once the shortage is long past and slots are free again, low may borrow the idle ones.
    for (let i = 0; i < 20; i++) admission.release();
    setNow(60_000);
    expect(admission.admit('low', true)).toBeNull();
  });
});
