/**
 * Consecutive-failure outlier ejection among one region's upstream hosts, after Envoy's.
 *
 * A host that fails `consecutiveFailures` times in a row (5xx, timeouts, connection errors; any
 * success resets the streak) is taken out of rotation for `baseEjectionMs`. Each further ejection
 * doubles that time up to `maxEjectionMs`; a host that then stays in service for `maxEjectionMs`
 * starts again from the base. Ejection ends lazily when someone next asks about the host, so there
 * are no timers.
 *
 * Ejection only ever narrows the choice, never empties it: a host is not ejected when that would
 * put more than `maxEjectedFraction` of the hosts out, nor when it is the last one in service. Its
 * streak keeps counting, so it is ejected on its next failure once there is room.
 */
import type { Clock } from '../admission/clock.js';

export interface EjectionOptions {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectedFraction: number;
}

export const DEFAULT_EJECTION_OPTIONS: Readonly<EjectionOptions> = {
  consecutiveFailures: 5,
  baseEjectionMs: 10_000,
  maxEjectionMs: 300_000,
  maxEjectedFraction: 0.5,
};

// Guards the fraction comparison against products such as 0.1 * 3 landing a hair above 0.3.
const FRACTION_EPSILON = 1e-9;
// Doubling beyond this many repeats exceeds any sensible maxEjectionMs anyway.
const MAX_DOUBLINGS = 30;

export class OutlierEjection {
  private readonly streaks: Uint32Array;
  /** 0 while the host is in service. */
  private readonly ejectedUntil: Float64Array;
  /** When the host last came back into service, for forgetting old ejections. */
  private readonly returnedAt: Float64Array;
  /** Ejections in a row without a long enough spell in service between them. */
  private readonly repeats: Uint8Array;
  private ejected = 0;

  constructor(
    readonly hostCount: number,
    private readonly opts: EjectionOptions,
    private readonly clock: Clock,
  ) {
    this.streaks = new Uint32Array(hostCount);
    this.ejectedUntil = new Float64Array(hostCount);
    this.returnedAt = new Float64Array(hostCount);
    this.repeats = new Uint8Array(hostCount);
  }

  isEjected(host: number): boolean {
    const until = this.ejectedUntil[host] ?? 0;
    if (until === 0) return false;
    if (this.clock() < until) return true;
    this.restore(host, until);
    return false;
  }

  success(host: number): void {
    this.streaks[host] = 0;
  }

  /** Returns true when this failure ejected the host. */
  failure(host: number): boolean {
    if (this.isEjected(host)) return false;
    const streak = (this.streaks[host] ?? 0) + 1;
    this.streaks[host] = streak;
    if (streak < this.opts.consecutiveFailures || !this.hasRoomForEjection()) return false;
    this.eject(host, this.clock());
    return true;
  }

  ejectedCount(): number {
    for (let host = 0; host < this.hostCount; host++) this.isEjected(host);
    return this.ejected;
  }

  private hasRoomForEjection(): boolean {
    const afterwards = this.ejectedCount() + 1;
    if (afterwards >= this.hostCount) return false;
    return afterwards <= this.opts.maxEjectedFraction * this.hostCount + FRACTION_EPSILON;
  }

  private eject(host: number, now: number): void {
    const { baseEjectionMs, maxEjectionMs } = this.opts;
    const returnedAt = this.returnedAt[host] ?? 0;
    const rested = returnedAt > 0 && now - returnedAt >= maxEjectionMs;
    const repeats = rested ? 0 : (this.repeats[host] ?? 0);
    // At least 1 ms: an ejectedUntil of 0 would read as "in service" while still counted as ejected.
    const duration = Math.max(1, Math.min(baseEjectionMs * 2 ** repeats, maxEjectionMs));
    this.repeats[host] = Math.min(repeats + 1, MAX_DOUBLINGS);
    this.ejectedUntil[host] = now + duration;
    this.ejected++;
  }

  private restore(host: number, dueAt: number): void {
    this.ejectedUntil[host] = 0;
    this.returnedAt[host] = dueAt;
    this.streaks[host] = 0;
    this.ejected--;
  }
}
