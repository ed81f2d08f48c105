import { seededRandom as seeded } from '../../bench/sim/random.js';
import { PRIORITIES, type Priority } from '../../src/admission/priority.js';
import type { RegionAdmission, ShedReason } from '../../src/admission/region-admission.js';

export function fakeClock(): { clock: () => number; setNow: (t: number) => void } {
  let now = 0;
  return { clock: () => now, setNow: (t) => (now = t) };
}

export interface Tally {
  admitted: Record<Priority, number>;
  shed: Record<Priority, number>;
  reasons: Record<ShedReason, number>;
  /** Requests from another region: offered and admitted. */
  failover: { offered: number; admitted: number };
}

export interface Simulation {
  admission: RegionAdmission;
  /** Requests per second offered for each priority. */
  offered: Partial<Record<Priority, number>>;
  /** When each priority starts to be offered (ms); from the start when not given. */
  startsAt?: Partial<Record<Priority, number>>;
  /** Requests per second failing over into this region from another. */
  failoverRps?: number;
  seconds: number;
  holdMs: (random: () => number) => number;
  seed?: number;
  /** Called after every millisecond with the total admitted so far. */
  onStep?: (now: number, admitted: number) => void;
  /** Called for every request of the region's own that is shed. */
  onShed?: (now: number, priority: Priority, reason: ShedReason) => void;
}

function arrivalsIn(rps: number, random: () => number): number {
  return Math.floor(rps / 1000) + (random() < (rps % 1000) / 1000 ? 1 : 0);
}

/**
 * Drives an admission with Poisson-like arrivals in 1 ms steps on the fake clock that `setNow`
 * moves, holding each admitted request for `holdMs` before releasing it, and ticking once a second.
 */
export function simulate(sim: Simulation, setNow: (now: number) => void, startAt = 0): Tally {
  const random = seeded(sim.seed ?? 1);
  // Failover draws from a stream of its own, so the region's own arrivals are the same with or without it.
  const failoverRandom = seeded((sim.seed ?? 1) + 1_000_003);
  const tally: Tally = {
    admitted: { critical: 0, high: 0, normal: 0, low: 0 },
    shed: { critical: 0, high: 0, normal: 0, low: 0 },
    reasons: { rate: 0, concurrency: 0, surge: 0 },
    failover: { offered: 0, admitted: 0 },
  };
  const offered = (priority: Priority, now: number) =>
    now >= (sim.startsAt?.[priority] ?? Number.NEGATIVE_INFINITY) ? (sim.offered[priority] ?? 0) : 0;
  let pending: number[] = [];
  let admittedTotal = 0;
  const hold = (now: number, from = random) => pending.push(now + sim.holdMs(from));
  for (let now = startAt; now < startAt + sim.seconds * 1000; now++) {
    setNow(now);
    const due = pending.filter((at) => at <= now);
    for (let i = 0; i < due.length; i++) sim.admission.release();
    pending = pending.filter((at) => at > now);
    for (const priority of PRIORITIES) {
      const arrivals = arrivalsIn(offered(priority, now), random);
      for (let i = 0; i < arrivals; i++) {
        const reason = sim.admission.admit(priority, true);
        if (reason === null) {
          tally.admitted[priority] += 1;
          admittedTotal += 1;
          hold(now);
        } else {
          tally.shed[priority] += 1;
          tally.reasons[reason] += 1;
          sim.onShed?.(now, priority, reason);
        }
      }
    }
    const failovers = arrivalsIn(sim.failoverRps ?? 0, failoverRandom);
    for (let i = 0; i < failovers; i++) {
      tally.failover.offered += 1;
      if (!sim.admission.admitSpillover()) continue;
      tally.failover.admitted += 1;
      admittedTotal += 1;
      hold(now, failoverRandom);
    }
    if (now % 1000 === 0) sim.admission.tick();
    sim.onStep?.(now, admittedTotal);
  }
  return tally;
}
