import type { ClosedLoopOptions, ClosedLoopResult } from './load.js';

/**
 * Throughput targets measured in turns rather than one after the other: on a machine whose speed
 * drifts over tens of seconds, a long run of A followed by a long run of B measures the drift as
 * much as A against B. Each round runs every target briefly, in an order that alternates from one
 * round to the next, and ratios are taken within a round, where the machine was the same.
 */
export const ROUNDS = 4;

/** One round's share of a throughput budget. */
export function roundBudget(
  budget: Pick<ClosedLoopOptions, 'durationSec' | 'amount'>,
): Pick<ClosedLoopOptions, 'durationSec' | 'amount'> {
  return {
    durationSec: budget.amount === undefined ? budget.durationSec / ROUNDS : budget.durationSec,
    ...(budget.amount === undefined ? {} : { amount: Math.ceil(budget.amount / ROUNDS) }),
  };
}

/** The targets in round `round`'s order: as given in even rounds, reversed in odd ones. */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...targets] : [...targets].reverse();
}

/** A target's rounds as one result: totals for counts and the rate, medians for latencies. */
export function mergeRounds(rounds: readonly ClosedLoopResult[]): ClosedLoopResult {
  const requests = sum(rounds.map((r) => r.requests));
  const durationSec = sum(rounds.map((r) => r.durationSec));
  const statuses: Record<string, number> = {};
  for (const round of rounds)
    for (const [status, count] of Object.entries(round.statuses))
      statuses[status] = (statuses[status] ?? 0) + count;
  const latency = (pick: (r: ClosedLoopResult) => number) => median(rounds.map(pick));
  return {
    requests,
    durationSec,
    rps: durationSec > 0 ? requests / durationSec : 0,
    latencyMs: {
      p50: latency((r) => r.latencyMs.p50),
      p90: latency((r) => r.latencyMs.p90),
      p99: latency((r) => r.latencyMs.p99),
      max: Math.max(...rounds.map((r) => r.latencyMs.max)),
      mean: latency((r) => r.latencyMs.mean),
    },
    statuses,
    errors: sum(rounds.map((r) => r.errors)),
    timeouts: sum(rounds.map((r) => r.timeouts)),
  };
}

/** The ratio of a to b in each round, and their median and range. */
export function roundRatios(
  a: readonly { rps: number }[],
  b: readonly { rps: number }[],
): { median: number; min: number; max: number; each: number[] } {
  const each = a.map((round, i) => round.rps / Math.max(1e-9, b[i]!.rps));
  return { median: median(each), min: Math.min(...each), max: Math.max(...each), each };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
