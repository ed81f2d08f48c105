import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import type { SoakEvent } from './soak-schedule.js';
import type { TrafficCounts } from './soak-traffic.js';
import type { SoakSample, Verdict } from './soak-verdict.js';

export interface SoakRecord {
  startedAt: string;
  durationMs: number;
  gatewayMode: 'child' | 'in-process';
  capacityRpsPerRegion: number;
  offeredRpsPerRegion: number;
  warmUpMs: number;
  windowMs: number;
  schedule: SoakEvent[];
  reloads: { atMs: number; status: number }[];
  /** The gateway's open descriptors before traffic and once pooled connections idled out after it. */
  fds: { before: number | undefined; afterIdle: number | undefined };
  traffic: TrafficCounts;
  samples: SoakSample[];
  verdict: Verdict;
}

/** Writes `<timestamp>-soak.json` into `dir` and returns its path. */
export async function writeSoakReport(dir: string, record: SoakRecord): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${record.startedAt.replace(/[:.]/g, '-')}-soak.json`);
  const environment = {
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
  };
  await writeFile(path, `${JSON.stringify({ ...record, environment }, null, 2)}\n`);
  return path;
}

/** A few lines for the terminal: the verdict and the figures it rests on. */
export function soakSummary(record: SoakRecord, path: string): string {
  const { traffic, verdict } = record;
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const lines = [
    `soak ${verdict.ok ? 'passed' : 'FAILED'} after ${(record.durationMs / 1000).toFixed(0)} s (${record.gatewayMode} gateway)`,
    `requests: ${traffic.sent} sent, ${traffic.answered} answered, ${traffic.cut} cut as expected, ${traffic.lost} lost, ${traffic.corrupted} corrupted`,
    `statuses: ${JSON.stringify(traffic.byStatus)}; stale ${traffic.stale}, failover ${traffic.failover}`,
    `reloads: ${record.reloads.length} (${record.reloads.filter((r) => r.status !== 200).length} failed)`,
  ];
  lines.push(
    `descriptors: ${record.fds.before ?? '?'} before traffic, ${record.fds.afterIdle ?? '?'} after idling`,
  );
  if (!verdict.growthJudged) lines.push('memory growth: not judged (too short to tell a trend from warm-up)');
  for (const g of verdict.growth) {
    lines.push(
      `${g.metric} floor per window: ${g.floors.map(mib).join(' -> ')} (${g.growthPct.toFixed(1)}%)`,
    );
  }
  for (const failure of verdict.failures) lines.push(`failure: ${failure}`);
  lines.push(`report: ${path}`);
  return lines.join('\n');
}
