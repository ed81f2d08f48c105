import type { Progress } from './progress.js';

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

export interface Chart {
  /** Short file-name part, e.g. `goodput`. */
  name: string;
  title: string;
  svg: string;
}

export interface ScenarioContext {
  /** A few seconds per scenario instead of up to a minute: for smoke tests. */
  quick: boolean;
  progress: Progress;
}

/** What a scenario measured; `data` keeps every number behind the tables. */
export interface ScenarioOutput {
  data: Record<string, unknown>;
  tables: Table[];
  charts: Chart[];
  notes: string[];
}

export interface Scenario {
  name: string;
  title: string;
  run(context: ScenarioContext): Promise<ScenarioOutput>;
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) && value > 0 ? `${value.toFixed(2)}x` : '-';
}
