import { AggregatorRegistry, type Registry } from 'prom-client';
import { namesCombined } from '../observability/metric-catalog.js';
import { GatewayMetrics } from '../observability/metrics.js';
import type { MetricJson } from './worker-messages.js';

// The primary reloads the config for the group, so its own count and version are the group's.
const PRIMARY_ONLY = namesCombined('primary');

/**
 * The metrics the worker group serves on its admin port: every worker's series combined the way
 * prom-client's cluster aggregation does it, by each series' own aggregator (declared with it in
 * metric-catalog.ts: counters, histograms and amounts summed, state gauges at their most severe,
 * process start time omitted), and the primary's own config, worker and process series.
 */
export function aggregateMetrics(
  perWorker: readonly MetricJson[][],
  primary: readonly MetricJson[],
): Registry {
  const workers = perWorker.map((metrics) => metrics.filter((metric) => !PRIMARY_ONLY.has(metric.name)));
  // The primary serves no requests, so of its floodgate_ series only its own are kept; its process
  // series join the workers', so memory and CPU add up to the whole group's.
  const own = primary.filter(
    (metric) => !metric.name.startsWith('floodgate_') || PRIMARY_ONLY.has(metric.name),
  );
  return AggregatorRegistry.aggregate([...workers, own]);
}

/** The primary's metrics: its own registry holds the config and worker series; the rest comes from the workers. */
export class WorkerGroupMetrics extends GatewayMetrics {
  constructor(
    private readonly collectWorkers: () => Promise<MetricJson[][]>,
    workersAlive: () => number,
  ) {
    super();
    this.countWorkersWith(workersAlive);
  }

  override async text(): Promise<string> {
    const [perWorker, own] = await Promise.all([this.collectWorkers(), this.registry.getMetricsAsJSON()]);
    return aggregateMetrics(perWorker, own as unknown as MetricJson[]).metrics();
  }
}
