import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScenarioOutput } from './scenario.js';
import { markdownTable } from './table.js';

export interface RunRecord extends ScenarioOutput {
  scenario: string;
  title: string;
  quick: boolean;
  startedAt: string;
  durationMs: number;
  environment: Record<string, unknown>;
}

export interface WrittenReport {
  jsonPath: string;
  chartPaths: string[];
}

/**
 * Writes `<timestamp>-<scenario>.json`, one SVG per chart beside it, and appends the tables to
 * `summary.md`, so the folder keeps a readable history of every run.
 */
export async function writeReport(dir: string, record: RunRecord): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const stem = `${record.startedAt.replace(/[:.]/g, '-')}-${record.scenario}`;
  const jsonPath = join(dir, `${stem}.json`);
  const { charts, ...rest } = record;
  const json = readableJson({ ...rest, charts: charts.map((chart) => `${stem}-${chart.name}.svg`) });
  await writeFile(jsonPath, `${json}\n`);
  const chartPaths: string[] = [];
  for (const chart of charts) {
    const path = join(dir, `${stem}-${chart.name}.svg`);
    await writeFile(path, chart.svg);
    chartPaths.push(path);
  }
  await appendFile(join(dir, 'summary.md'), summaryMarkdown(record, stem));
  return { jsonPath, chartPaths };
}

export function summaryMarkdown(record: RunRecord, stem: string): string {
  const heading = `## ${record.title} (${record.scenario}) - ${record.startedAt}${record.quick ? ' - quick' : ''}`;
  const environment = Object.entries(record.environment)
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join(', ');
  const sections = [
    heading,
    `_${environment}; took ${(record.durationMs / 1000).toFixed(1)} s_`,
    ...record.tables.map(markdownTable),
    ...record.charts.map((chart) => `![${chart.title}](${stem}-${chart.name}.svg)`),
    ...record.notes.map((note) => `- ${note}`),
  ];
  return `${sections.join('\n\n')}\n\n`;
}

/**
 * JSON with one line per object or array that holds only plain values: as easy to read as fully
 * indented JSON, a fraction of the lines for the per-second timelines.
 */
export function readableJson(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries: Array<[string | undefined, unknown]> = Array.isArray(value)
    ? value.map((item): [undefined, unknown] => [undefined, item])
    : Object.entries(value).filter(([, item]) => item !== undefined);
  if (entries.every(([, item]) => item === null || typeof item !== 'object')) return JSON.stringify(value);
  const inner = `${indent}  `;
  const lines = entries.map(
    ([key, item]) =>
      `${inner}${key === undefined ? '' : `${JSON.stringify(key)}: `}${readableJson(item, inner)}`,
  );
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${lines.join(',\n')}\n${indent}${close}`;
}
