import { performance } from 'node:perf_hooks';
import type { RegionSnapshot, RunningFloodgate } from './floodgate.js';

export interface RegionSample {
  atMs: number;
  regions: Record<string, RegionSnapshot>;
}

export interface AdminPoller {
  stop(): RegionSample[];
}

/** Samples Floodgate's /admin/regions once a period while load runs, for breaker and surge timelines. */
export function pollRegions(floodgate: RunningFloodgate | undefined, periodMs = 1000): AdminPoller {
  const samples: RegionSample[] = [];
  if (!floodgate) return { stop: () => samples };
  const start = performance.now();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    floodgate
      .regions()
      .then((regions) => {
        if (regions)
          samples.push({ atMs: Math.round(performance.now() - start), regions: contractFields(regions) });
      })
      .finally(() => {
        busy = false;
      });
  }, periodMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}

/** Keeps the fields the contract fixes (the admin port may report more), rounded, so results stay small. */
function contractFields(regions: Record<string, RegionSnapshot>): Record<string, RegionSnapshot> {
  const kept: Record<string, RegionSnapshot> = {};
  for (const [name, region] of Object.entries(regions)) {
    kept[name] = {
      breaker: region.breaker,
      inflight: region.inflight,
      tokens: round(region.tokens),
      admittedRps: round(region.admittedRps),
      shedRps: round(region.shedRps),
      baselineRps: round(region.baselineRps),
      surging: region.surging,
    };
  }
  return kept;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
