/**
 * Line charts as plain SVG text, so a run's charts need no browser or plotting library and can be
 * viewed straight from the results folder or a pull request.
 */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Vertical lines marking events, e.g. the start of a surge. */
  markers?: Array<{ x: number; label: string }>;
  yMax?: number;
}

const PLOT_WIDTH = 570;
const HEIGHT = 420;
const MARGIN = { left: 70, top: 44, bottom: 56 };
const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
];

export function lineChart(spec: LineChartSpec): string {
  // The legend sits right of the plot and is as wide as the longest series name needs.
  const legendWidth = 60 + 7 * Math.max(8, ...spec.series.map((series) => series.name.length));
  const WIDTH = MARGIN.left + PLOT_WIDTH + legendWidth;
  const points = spec.series.flatMap((series) => series.points);
  const xs = [...points.map(([x]) => x), ...(spec.markers ?? []).map((marker) => marker.x)];
  const xTicks = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs));
  const yTicks = niceTicks(0, spec.yMax ?? Math.max(1, ...points.map(([, y]) => y)));
  const plotWidth = PLOT_WIDTH;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xFirst = xTicks[0]!;
  const xLast = xTicks[xTicks.length - 1]!;
  const yLast = yTicks[yTicks.length - 1]!;
  const px = (x: number) => MARGIN.left + ((x - xFirst) / (xLast - xFirst || 1)) * plotWidth;
  const py = (y: number) => MARGIN.top + plotHeight - (y / (yLast || 1)) * plotHeight;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
    ...yTicks.map(
      (tick) =>
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${py(tick)}" y2="${py(tick)}" stroke="#e5e5e5"/>` +
        `<text x="${MARGIN.left - 6}" y="${py(tick) + 4}" text-anchor="end">${formatTick(tick)}</text>`,
    ),
    ...xTicks.map(
      (tick) =>
        `<line x1="${px(tick)}" x2="${px(tick)}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 5}" stroke="#333"/>` +
        `<text x="${px(tick)}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${formatTick(tick)}</text>`,
    ),
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
    ...(spec.markers ?? []).map(
      (marker, index) =>
        `<line x1="${px(marker.x)}" x2="${px(marker.x)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#999" stroke-dasharray="4 4"/>` +
        `<text x="${px(marker.x) + 4}" y="${MARGIN.top + 12 + (index % 2) * 14}" fill="#666" font-size="11">${escapeXml(marker.label)}</text>`,
    ),
    ...spec.series.map((series, index) => seriesPath(series, COLORS[index % COLORS.length]!, px, py)),
    ...spec.series.map((series, index) =>
      legendEntry(series, COLORS[index % COLORS.length]!, index, MARGIN.left + plotWidth),
    ),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

function seriesPath(
  series: Series,
  color: string,
  px: (x: number) => number,
  py: (y: number) => number,
): string {
  if (series.points.length === 0) return '';
  const coordinates = series.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
  const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
  const dots =
    series.points.length <= 20
      ? coordinates.map(
          (c) => `<circle cx="${c.split(',')[0]}" cy="${c.split(',')[1]}" r="3" fill="${color}"/>`,
        )
      : [];
  return [
    `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${coordinates.join(' ')}"/>`,
    ...dots,
  ].join('');
}

function legendEntry(series: Series, color: string, index: number, plotRight: number): string {
  const x = plotRight + 16;
  const y = MARGIN.top + 8 + index * 20;
  const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
  return `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${dash}/><text x="${x + 30}" y="${y + 4}">${escapeXml(series.name)}</text>`;
}

/** Round tick values (1, 2 or 5 times a power of ten) covering [min, max]. */
export function niceTicks(min: number, max: number, target = 6): number[] {
  const span = max - min || 1;
  const rough = span / target;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step =
    [1, 2, 5, 10].map((m) => m * power).find((candidate) => span / candidate <= target) ?? 10 * power;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let tick = first; tick < max + step * 0.999; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks.length >= 2 ? ticks : [first, first + step];
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0+$/, '');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
