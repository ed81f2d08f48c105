import { lineChart, type Series } from '../charts/svg-chart.js';
import type { RegionReplay, SecondSeries } from './region-replay.js';
import type { ReplayOutcome } from './replay-driver.js';

// More points than this are averaged into wider steps: a chart is read by eye, not point by point.
const MAX_POINTS = 900;
const PANEL_HEIGHT = 420;

/**
 * `--chart FILE.svg`: one panel per region, requests per second offered, admitted and shed over log
 * time, with the surges marked. With `--compare`, the other config's admitted rate is dashed.
 */
export function replayChart(outcome: ReplayOutcome): string {
  const [first, second] = outcome.configs;
  const origin = Math.floor(outcome.firstArrival / 1000);
  // The log's last second is cut short; drawn, it would read as traffic falling off a cliff.
  const lastWhole = Math.floor(outcome.lastArrival / 1000) - 1 - origin;
  const panels = first!.regions.map((region) => {
    const other = second?.regions.find((r) => r.name === region.name);
    return panel({ region, origin, lastWhole, other: other && { label: second!.label, region: other } });
  });
  const width = Math.max(...panels.map(widthOf));
  const body = panels.map((svg, i) => `<g transform="translate(0 ${i * PANEL_HEIGHT})">${svg}</g>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_HEIGHT * panels.length}" viewBox="0 0 ${width} ${PANEL_HEIGHT * panels.length}">`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

interface PanelSpec {
  region: RegionReplay;
  /** Epoch second that is x = 0. */
  origin: number;
  /** The last whole second of the log, counted from the origin. */
  lastWhole: number;
  other?: { label: string; region: RegionReplay } | undefined;
}

function panel({ region, origin, lastWhole, other }: PanelSpec): string {
  const series = region.series!;
  const step = Math.max(1, Math.ceil(series.offered.length / MAX_POINTS));
  const draw = (from: SecondSeries, values: readonly number[]) =>
    points(from, values, origin, step).filter(([x]) => x <= Math.max(0, lastWhole));
  const lines: Series[] = [
    { name: 'offered', points: draw(series, series.offered) },
    { name: 'admitted', points: draw(series, series.admitted) },
    { name: 'shed', points: draw(series, series.shed) },
  ];
  if (other?.region.series) {
    const theirs = other.region.series;
    lines.push({ name: `admitted (${other.label})`, points: draw(theirs, theirs.admitted), dashed: true });
  }
  const markers = region.surges.flatMap((s) => [
    { x: s.from / 1000 - origin, label: 'surge began' },
    { x: s.to / 1000 - origin, label: 'surge ended' },
  ]);
  return lineChart({
    title: `${region.name}: requests per second`,
    xLabel: step === 1 ? 'seconds of log time' : `seconds of log time (averaged over ${step} s)`,
    yLabel: 'requests/s',
    series: lines,
    markers,
  });
}

function points(
  series: SecondSeries,
  values: readonly number[],
  origin: number,
  step: number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const offset = series.startSecond - origin;
  for (let i = 0; i < values.length; i += step) {
    let total = 0;
    const end = Math.min(values.length, i + step);
    for (let j = i; j < end; j++) total += values[j]!;
    out.push([offset + i, total / (end - i)]);
  }
  return out;
}

function widthOf(svg: string): number {
  return Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1] ?? 0);
}
