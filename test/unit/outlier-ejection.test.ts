import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EJECTION_OPTIONS,
  type EjectionOptions,
  OutlierEjection,
} from '../../src/upstream/outlier-ejection.js';

const OPTIONS: EjectionOptions = {
  consecutiveFailures: 3,
  baseEjectionMs: 10_000,
  maxEjectionMs: 35_000,
  maxEjectedFraction: 0.5,
};

let now = 0;
const clock = () => now;

function fail(ejection: OutlierEjection, host: number, times: number): boolean {
  let ejected = false;
  for (let i = 0; i < times; i++) ejected = ejection.failure(host);
  return ejected;
}

describe('OutlierEjection', () => {
  it('ejects a host after the configured number of consecutive failures', () => {
    // Verifies: the streak threshold ejects, and only the failure that reaches it reports true.
    now = 1_000;
    const ejection = new OutlierEjection(4, OPTIONS, clock);
    expect(ejection.failure(1)).toBe(false);
    expect(ejection.failure(1)).toBe(false);
    expect(ejection.isEjected(1)).toBe(false);
    expect(ejection.failure(1)).toBe(true);
    expect(ejection.isEjected(1)).toBe(true);
    expect(ejection.isEjected(0)).toBe(false);
    expect(ejection.ejectedCount()).toBe(1);
  });

  it('resets the streak on success', () => {
    // Verifies: failures separated by a success never eject.
    now = 1_000;
    const ejection = new OutlierEjection(4, OPTIONS, clock);
    fail(ejection, 2, 2);
    ejection.success(2);
    fail(ejection, 2, 2);
    expect(ejection.isEjected(2)).toBe(false);
    expect(ejection.failure(2)).toBe(true);
  });

  it('returns the host to service when its ejection time is up', () => {
    // Verifies: lazy un-ejection at exactly baseEjectionMs, with a fresh streak.
    now = 1_000;
    const ejection = new OutlierEjection(4, OPTIONS, clock);
    fail(ejection, 0, 3);
    now += OPTIONS.baseEjectionMs - 1;
    expect(ejection.isEjected(0)).toBe(true);
    now += 1;
    expect(ejection.isEjected(0)).toBe(false);
    expect(ejection.ejectedCount()).toBe(0);
    expect(fail(ejection, 0, 2)).toBe(false);
  });

  it('doubles the ejection time on each repeat, capped at maxEjectionMs', () => {
    // Verifies: 10 s, 20 s, then 35 s (the cap) for a host that keeps failing.
    now = 1_000;
    const ejection = new OutlierEjection(4, OPTIONS, clock);
    const observed: number[] = [];
    for (let round = 0; round < 4; round++) {
      fail(ejection, 3, 3);
      const start = now;
      while (ejection.isEjected(3)) now += 1_000;
      observed.push(now - start);
    }
    expect(observed).toEqual([10_000, 20_000, 35_000, 35_000]);
  });

  it('starts again from the base time after a long spell in service', () => {
    // Verifies: staying in service for maxEjectionMs forgets earlier ejections.
    now = 1_000;
    const ejection = new OutlierEjection(4, OPTIONS, clock);
    fail(ejection, 0, 3);
    now += 10_000;
    fail(ejection, 0, 3);
    now += 20_000;
    expect(ejection.isEjected(0)).toBe(false);
    now += OPTIONS.maxEjectionMs;
    fail(ejection, 0, 3);
    now += OPTIONS.baseEjectionMs;
    expect(ejection.isEjected(0)).toBe(false);
  });

  it('never ejects more than maxEjectedFraction of the hosts', () => {
    // Verifies: with 4 hosts and 0.5, a third failing host stays in service until room frees up.
    now = 1_000;
    const ejection = new OutlierEjection(4, OPTIONS, clock);
    expect(fail(ejection, 0, 3)).toBe(true);
    expect(fail(ejection, 1, 3)).toBe(true);
    expect(fail(ejection, 2, 3)).toBe(false);
    expect(ejection.isEjected(2)).toBe(false);
    expect(ejection.ejectedCount()).toBe(2);
    now += OPTIONS.baseEjectionMs;
    expect(ejection.failure(2)).toBe(true);
  });

  it('never ejects the last host in service', () => {
    // Verifies: a single host, and the second of two with fraction 1, are never ejected.
    now = 1_000;
    const single = new OutlierEjection(1, OPTIONS, clock);
    expect(fail(single, 0, 10)).toBe(false);
    const pair = new OutlierEjection(2, { ...OPTIONS, maxEjectedFraction: 1 }, clock);
    expect(fail(pair, 0, 3)).toBe(true);
    expect(fail(pair, 1, 10)).toBe(false);
    expect(pair.isEjected(1)).toBe(false);
  });

  it('keeps at least one host in service whatever happens', () => {
    // Verifies: for random failure and time sequences, ejected hosts stay within the bounds.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.tuple(fc.nat(5), fc.boolean(), fc.nat(20_000)), { maxLength: 200 }),
        (hosts, fraction, events) => {
          let time = 1;
          const ejection = new OutlierEjection(
            hosts,
            { ...DEFAULT_EJECTION_OPTIONS, maxEjectedFraction: fraction },
            () => time,
          );
          for (const [host, failed, advance] of events) {
            time += advance;
            if (failed) ejection.failure(host % hosts);
            else ejection.success(host % hosts);
            const ejected = ejection.ejectedCount();
            expect(ejected).toBeLessThan(hosts);
            expect(ejected).toBeLessThanOrEqual(Math.floor(fraction * hosts + 1e-9));
          }
        },
      ),
    );
  });
});
