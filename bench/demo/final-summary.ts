import { formatNumber, formatPercent, type Table } from '../scenario.js';
import { type KindResults, regionKinds, regionTotals } from '../scenarios/video-site.js';
import { goodAnswers, type OutcomeCounts, ratio } from '../tally.js';
import { KINDS, type Kind } from '../traffic-mix.js';
import type { PhaseResults } from './demo-load.js';
import { type PhaseName, SURGE_FACTOR, SURGING_REGION } from './demo-plan.js';

type Phase = PhaseResults[number];

/** A region that served at least this share of its requests during the surge counts as unaffected. */
const UNAFFECTED_SHARE = 0.99;

export const FINAL_TABLE_NOTE =
  'served: correct answers (fresh or stale) / requests sent. offered/s and p99 (fresh answers, from when ' +
  'each request was due): normal -> surge. stale and shed: share of the surge phase. zeros: whole run.';

/** Normal against surge (and the recovery after it) for every region and kind, as the clients saw it. */
export function finalTable(phases: PhaseResults, regions: readonly string[]): Table {
  const normal = phaseNamed(phases, 'normal');
  const surge = phaseNamed(phases, 'surge');
  const after = phaseNamed(phases, 'after');
  const rows = regions.flatMap((region) => {
    const before = regionKinds(normal.streams, region);
    const during = regionKinds(surge.streams, region);
    const later = regionKinds(after.streams, region);
    return KINDS.map((kind) => {
      const surgeCounts = during[kind];
      return [
        region,
        kind,
        `${formatNumber(perSecond(before[kind], normal))} -> ${formatNumber(perSecond(surgeCounts, surge))}`,
        formatPercent(served(before[kind])),
        formatPercent(served(surgeCounts)),
        formatPercent(served(later[kind])),
        formatPercent(ratio(surgeCounts.stale, surgeCounts.sent)),
        formatPercent(ratio(surgeCounts.shed, surgeCounts.sent)),
        `${formatNumber(before[kind].latencyMs.p99)} -> ${formatNumber(surgeCounts.latencyMs.p99)}`,
        zerosIn(phases, region, kind),
      ];
    });
  });
  return {
    title: 'Normal vs surge, per region and kind',
    columns: [
      'region',
      'kind',
      'offered/s',
      'served normal',
      'served surge',
      'served after',
      'stale',
      'shed',
      'p99 ms',
      'zeros',
    ],
    rows,
  };
}

/** One sentence on what happened, e.g. which kinds the surging region kept and which it shed first. */
export function storyLine(phases: PhaseResults, regions: readonly string[]): string {
  const surge = phaseNamed(phases, 'surge');
  const kinds = regionKinds(surge.streams, SURGING_REGION);
  const zeros = regions.reduce(
    (sum, region) => sum + KINDS.reduce((n, kind) => n + zerosIn(phases, region, kind), 0),
    0,
  );
  return [
    `${SURGING_REGION} surged ${SURGE_FACTOR}x: ${kindStory(kinds)}`,
    othersStory(
      surge,
      regions.filter((region) => region !== SURGING_REGION),
    ),
    `zero counts served: ${zeros}`,
  ].join('; ');
}

function kindStory(kinds: KindResults): string {
  const worst = KINDS.reduce((low, kind) => (served(kinds[kind]) < served(kinds[low]) ? kind : low));
  const clearlyWorst = KINDS.every(
    (kind) => kind === worst || served(kinds[kind]) > served(kinds[worst]) + 0.05,
  );
  return KINDS.map((kind) => {
    const counts = kinds[kind];
    const how = [
      counts.stale > 0 ? `${formatPercent(ratio(counts.stale, counts.sent))} stale` : '',
      counts.failover > 0 ? `${formatPercent(ratio(counts.failover, counts.sent))} via failover` : '',
      kind === worst && clearlyWorst ? 'shed first' : '',
    ].filter((part) => part !== '');
    return `${kind} ${formatPercent(served(counts))} served${how.length > 0 ? ` (${how.join(', ')})` : ''}`;
  }).join(', ');
}

function othersStory(surge: Phase, others: readonly string[]): string {
  const hurt = others.filter((region) => served(regionTotals(surge.streams, region)) < UNAFFECTED_SHARE);
  const names = others.join(' and ');
  if (hurt.length === 0) {
    const least = formatPercent(
      Math.min(...others.map((region) => served(regionTotals(surge.streams, region)))),
    );
    return `${names} unaffected (${least === '100.0%' ? least : `at least ${least}`} served)`;
  }
  return hurt
    .map((region) => `${region} ${formatPercent(served(regionTotals(surge.streams, region)))} served`)
    .join(', ');
}

function zerosIn(phases: PhaseResults, region: string, kind: Kind): number {
  return phases.reduce((sum, phase) => sum + regionKinds(phase.streams, region)[kind].zero, 0);
}

function served(counts: OutcomeCounts): number {
  return ratio(goodAnswers(counts), counts.sent);
}

function perSecond(counts: OutcomeCounts, phase: Phase): number {
  return counts.sent / (phase.durationMs / 1000);
}

function phaseNamed(phases: PhaseResults, name: PhaseName): Phase {
  const phase = phases.find((candidate) => candidate.name === name);
  if (phase === undefined) throw new Error(`the load has no ${name} phase`);
  return phase;
}
