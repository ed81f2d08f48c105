import type { Outcome } from './traffic-mix.js';

/** What happened to the requests sent in one slice of a run (a phase, or one second). */
export interface OutcomeCounts {
  sent: number;
  ok: number;
  stale: number;
  zero: number;
  shed: number;
  error: number;
  timeout: number;
  /** Answers that came from a failover region (any outcome). */
  failover: number;
}

export function emptyCounts(): OutcomeCounts {
  return { sent: 0, ok: 0, stale: 0, zero: 0, shed: 0, error: 0, timeout: 0, failover: 0 };
}

export function countOutcome(counts: OutcomeCounts, outcome: Outcome): void {
  counts[outcome]++;
}

export function addCounts(into: OutcomeCounts, from: OutcomeCounts): OutcomeCounts {
  for (const key of Object.keys(into) as Array<keyof OutcomeCounts>) into[key] += from[key];
  return into;
}

/** Answers users would accept: the true data, fresh or from a kept copy. */
export function goodAnswers(counts: OutcomeCounts): number {
  return counts.ok + counts.stale;
}

export function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}
