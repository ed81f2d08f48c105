import { PRIORITIES } from '../admission/priority.js';
import type { ConfigOutcome } from './config-replay.js';
import { REPLAY_SHED_REASONS, type RegionReplay } from './region-replay.js';
import type { ReplayOutcome } from './replay-driver.js';
import { columns, count, footnotes, heading, seconds, share } from './report-parts.js';
import { modeName } from './report-table.js';

/**
 * The same traffic through two configs, side by side: per region, what each admitted and shed (by
 * reason and by priority), the share shed and the surges, with the difference (second minus first).
 */
export function reportCompare(outcome: ReplayOutcome, logs: readonly string[]): string {
  const [first, second] = outcome.configs as [ConfigOutcome, ConfigOutcome];
  const parts = [
    ...heading(outcome, first.requests, logs),
    `${first.label}: shedding ${modeName(first)}`,
    `${second.label}: shedding ${modeName(second)}`,
  ];
  const names = [...new Set([...first.regions, ...second.regions].map((r) => r.name))];
  for (const name of names) {
    const a = first.regions.find((r) => r.name === name);
    const b = second.regions.find((r) => r.name === name);
    parts.push('', `region ${name}`, columns(regionRows(a, b, [first.label, second.label]), '  '));
  }
  parts.push('', ...footnotes(outcome));
  return `${parts.join('\n')}\n`;
}

interface Figures {
  requests: number;
  admitted: number;
  shed: number;
  reasons: number[];
  admittedBy: number[];
  shedBy: number[];
  surges: number;
  surgeMs: number;
}

function figures(region: RegionReplay): Figures {
  const reasons = REPLAY_SHED_REASONS.map((reason) =>
    PRIORITIES.reduce((sum, _p, rank) => sum + region.shedCount(reason, rank), 0),
  );
  const shedBy = PRIORITIES.map((_p, rank) =>
    REPLAY_SHED_REASONS.reduce((sum, reason) => sum + region.shedCount(reason, rank), 0),
  );
  const admitted = Array.from(region.admitted);
  const shed = reasons.reduce((x, y) => x + y, 0);
  const total = admitted.reduce((x, y) => x + y, 0);
  return {
    requests: total + shed,
    admitted: total,
    shed,
    reasons,
    admittedBy: admitted,
    shedBy,
    surges: region.surges.length,
    surgeMs: region.surges.reduce((sum, s) => sum + (s.to - s.from), 0),
  };
}

function regionRows(
  a: RegionReplay | undefined,
  b: RegionReplay | undefined,
  labels: [string, string],
): string[][] {
  const fa = a && figures(a);
  const fb = b && figures(b);
  const rows: string[][] = [['', labels[0], labels[1], 'difference']];
  const numberRow = (label: string, pick: (f: Figures) => number) =>
    rows.push([label, cell(fa, pick), cell(fb, pick), difference(fa, fb, pick)]);
  numberRow('requests', (f) => f.requests);
  numberRow('admitted', (f) => f.admitted);
  numberRow('shed', (f) => f.shed);
  REPLAY_SHED_REASONS.forEach((reason, i) => {
    if ((fa?.reasons[i] ?? 0) + (fb?.reasons[i] ?? 0) > 0) numberRow(`  ${reason}`, (f) => f.reasons[i]!);
  });
  rows.push([
    'shed share',
    fa ? share(fa.shed, fa.requests) : '-',
    fb ? share(fb.shed, fb.requests) : '-',
    fa && fb ? points(fa, fb) : '-',
  ]);
  PRIORITIES.forEach((priority, rank) => {
    numberRow(`${priority} admitted`, (f) => f.admittedBy[rank]!);
    numberRow(`${priority} shed`, (f) => f.shedBy[rank]!);
  });
  rows.push([
    'surges',
    fa ? surgeCell(fa) : '-',
    fb ? surgeCell(fb) : '-',
    fa && fb ? signed(fb.surges - fa.surges) : '-',
  ]);
  return rows;
}

function cell(f: Figures | undefined, pick: (f: Figures) => number): string {
  return f ? count(pick(f)) : '-';
}

function difference(fa: Figures | undefined, fb: Figures | undefined, pick: (f: Figures) => number): string {
  return fa && fb ? signed(pick(fb) - pick(fa)) : '-';
}

function signed(n: number): string {
  return n > 0 ? `+${count(n)}` : count(n);
}

function points(fa: Figures, fb: Figures): string {
  const pa = fa.requests === 0 ? 0 : (fa.shed / fa.requests) * 100;
  const pb = fb.requests === 0 ? 0 : (fb.shed / fb.requests) * 100;
  const d = pb - pa;
  return `${d > 0 ? '+' : ''}${d.toFixed(1)} pts`;
}

function surgeCell(f: Figures): string {
  return f.surges === 0 ? 'none' : `${f.surges} (${seconds(f.surgeMs)})`;
}
