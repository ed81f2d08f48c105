import { PRIORITIES, type Priority } from '../admission/priority.js';
import type { ConfigOutcome } from './config-replay.js';
import { REPLAY_SHED_REASONS, type RegionReplay, type ReplayShedReason } from './region-replay.js';
import type { ReplayOutcome } from './replay-driver.js';

/** One region's decisions, in the shape `--json` prints (CONTRACT.md section 6). */
export interface RegionSummary {
  admitted: number;
  /** Shed requests by reason; reasons with none are left out. */
  shed: Partial<Record<ReplayShedReason, number>>;
  byPriority: Record<Priority, { admitted: number; shed: number }>;
  surges: Array<{ from: string; to: string }>;
}

export interface ReplaySummary {
  requests: number;
  skipped: number;
  regions: Record<string, RegionSummary>;
}

/** The `--json` object for one config's replay. */
export function summarize(outcome: ReplayOutcome, config: ConfigOutcome): ReplaySummary {
  const regions: Record<string, RegionSummary> = {};
  for (const region of config.regions) regions[region.name] = summarizeRegion(region);
  return { requests: config.requests, skipped: outcome.skipped, regions };
}

export function summarizeRegion(region: RegionReplay): RegionSummary {
  const shed: Partial<Record<ReplayShedReason, number>> = {};
  for (const reason of REPLAY_SHED_REASONS) {
    const total = PRIORITIES.reduce((sum, _p, rank) => sum + region.shedCount(reason, rank), 0);
    if (total > 0) shed[reason] = total;
  }
  const byPriority = {} as Record<Priority, { admitted: number; shed: number }>;
  PRIORITIES.forEach((priority, rank) => {
    const shedHere = REPLAY_SHED_REASONS.reduce((sum, reason) => sum + region.shedCount(reason, rank), 0);
    byPriority[priority] = { admitted: region.admitted[rank]!, shed: shedHere };
  });
  return {
    admitted: region.admitted.reduce((a, b) => a + b, 0),
    shed,
    byPriority,
    surges: region.surges.map((s) => ({ from: isoTime(s.from), to: isoTime(s.to) })),
  };
}

/** Total shed requests of a region summary. */
export function shedTotal(region: RegionSummary): number {
  return Object.values(region.shed).reduce((a, b) => a + (b ?? 0), 0);
}

export function isoTime(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}
