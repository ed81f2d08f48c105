import { AggregatorRegistry, Gauge, type Registry } from 'prom-client';
import { GatewayMetrics } from '../observability/metrics.js';
import type { MetricJson } from './worker-messages.js';

// Series that describe a state, not an amount: adding them across workers would invent values
// (two open breakers are not a breaker in state 4). The group shows the most severe.
const MOST_SEVERE_ACROSS_WORKERS = new Set([
  'floodgate_breaker_state',
  'floodgate_region_surging',
  'floodgate_upstream_ejected',
]);
// The primary reloads the config for the group, so its own count and version are the group's.
const PRIMARY_ONLY = new Set(['floodgate_config_version', 'floodgate_config_reload_total']);

/**
 * The metrics the worker group serves on its admin port: every worker's series added up the way
 * prom-client's cluster aggregation does it (counters, histograms and amounts summed, process
 * start time omitted), state gauges at their most severe, and the primary's own config, worker and
 * process series.
 */
export function aggregateMetrics(
  perWorker: readonly MetricJson[][],
  primary: readonly MetricJson[],
): Registry {
  const workers = perWorker.map((metrics) =>
    metrics
      .filter((metric) => !PRIMARY_ONLY.has(metric.name))
      .map((metric) =>
        MOST_SEVERE_ACROSS_WORKERS.has(metric.name) ? { ...metric, aggregator: 'max' } : metric,
      ),
  );
  // The primary serves no requests, so of its floodgate_ series only its own are kept; its process
  // series join the workers', so memory and CPU add up to the whole group's.
  const own = primary.filter(
    (metric) =>
      !metric.name.startsWith('floodgate_') || PRIMARY_ONLY.has(metric.name) || metric.name === WORKERS_GAUGE,
  );
  return AggregatorRegistry.aggregate([...workers, own]);
}

const WORKERS_GAUGE = 'floodgate_workers';

/** The primary's metrics: its own registry holds the config and worker series; the rest comes from the workers. */
export class WorkerGroupMetrics extends GatewayMetrics {
  constructor(
    private readonly collectWorkers: () => Promise<MetricJson[][]>,
    workersAlive: () => number,
  ) {
    super();
    new Gauge({
      name: WORKERS_GAUGE,
      help: 'Worker processes serving the public port',
      registers: [this.registry],
      collect() {
        this.set(workersAlive());
      },
    });
  }

  override async text(): Promise<string> {
    const [perWorker, own] = await Promise.all([this.collectWorkers(), this.registry.getMetricsAsJSON()]);
    return aggregateMetrics(perWorker, own as unknown as MetricJson[]).metrics();
  }
}
