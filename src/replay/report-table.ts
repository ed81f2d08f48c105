import { PRIORITIES } from '../admission/priority.js';
import type { ConfigOutcome } from './config-replay.js';
import { REPLAY_SHED_REASONS, type RegionReplay } from './region-replay.js';
import type { ReplayOutcome } from './replay-driver.js';
import { isoTime } from './replay-summary.js';
import { columns, count, footnotes, heading, seconds, share } from './report-parts.js';

/**
 * The readable report of one config's replay: per region, a row per priority with requests,
 * admitted, shed by reason and the share shed, then the periods the region surged.
 */
export function reportTable(outcome: ReplayOutcome, logs: readonly string[]): string {
  const config = outcome.configs[0]!;
  const parts = [
    ...heading(outcome, config.requests, logs),
    `config ${config.label}, shedding ${modeName(config)}`,
  ];
  for (const region of config.regions) parts.push('', ...regionTable(region, config));
  parts.push('', ...footnotes(outcome));
  return `${parts.join('\n')}\n`;
}

function regionTable(region: RegionReplay, config: ConfigOutcome): string[] {
  const verb = config.enforce ? 'shed' : 'would shed';
  const header = ['priority', 'requests', 'admitted', ...REPLAY_SHED_REASONS, `${verb} share`];
  const rows = [header];
  const totals = new Array<number>(header.length - 2).fill(0);
  PRIORITIES.forEach((priority, rank) => {
    const shed = REPLAY_SHED_REASONS.map((reason) => region.shedCount(reason, rank));
    const admitted = region.admitted[rank]!;
    const values = [admitted + sum(shed), admitted, ...shed];
    for (const [i, v] of values.entries()) totals[i]! += v;
    rows.push([priority, ...values.map(count), share(sum(shed), values[0]!)]);
  });
  rows.push(['all', ...totals.map(count), share(totals[0]! - totals[1]!, totals[0]!)]);
  const requests = totals[0]!;
  const shedAll = requests - totals[1]!;
  return [
    `region ${region.name}: ${count(requests)} requests, ${count(totals[1]!)} admitted, ${count(shedAll)} ${verb} (${share(shedAll, requests)})`,
    columns(rows, '  '),
    `  surges: ${surgeList(region)}`,
  ];
}

export function surgeList(region: RegionReplay): string {
  if (region.surges.length === 0) return 'none';
  return region.surges
    .map((s) => `${isoTime(s.from)} to ${isoTime(s.to)} (${seconds(s.to - s.from)})`)
    .join('; ');
}

export function modeName(config: ConfigOutcome): string {
  return config.enforce ? 'enforce' : 'shadow (decisions are counted; nothing was refused)';
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
