export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; an empty sample reports zeros with count 0 so readers can tell. */
export function summarizeLatency(samples: number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1]!),
  };
}

function percentile(sorted: Float64Array, quantile: number): number {
  const rank = Math.max(0, Math.ceil(quantile * sorted.length) - 1);
  return sorted[rank]!;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
