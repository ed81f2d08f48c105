// What the primary and its workers say to each other over the node:cluster IPC channel. Plain
// JSON objects with a `type`; requests that expect an answer carry an `id` the answer repeats.

import type { RegionView, ReloadResult } from '../admin/admin-view.js';

/** One metric as prom-client's `getMetricsAsJSON` gives it: what AggregatorRegistry.aggregate takes. */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

export type PrimaryMessage =
  /** Start serving with this config text (validated by the primary) as one of `workers` processes. */
  | { type: 'start'; text: string; workers: number }
  | { type: 'reload'; id: number; text: string }
  | { type: 'metrics'; id: number }
  | { type: 'drain' };

export type WorkerMessage =
  /** Sent once the worker listens for messages: anything the primary sent before that is lost. */
  | { type: 'hello' }
  | { type: 'ready'; publicUrl: string }
  | { type: 'failed'; error: string }
  | { type: 'state'; regions: Record<string, RegionView> }
  | { type: 'reloaded'; id: number; result: ReloadResult }
  | { type: 'metrics'; id: number; metrics: MetricJson[] };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}
