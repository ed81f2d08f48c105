// Every Floodgate metric is declared here, once: its name, help text, type and labels, and how a
// worker group combines it. Code that records or exports a metric refers to its entry, so
// this list is the whole set (docs/operations.md, the Grafana dashboard and the alert rules in ops/
// use only these names; a test holds them to it).
//
// Labels are bounded: a region is a configured name, an upstream a configured URL, and every other
// label takes values from a fixed list below. Nothing a client sends becomes a label value.

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * How the primary of a worker group combines the workers' values: add them up, show the worst
 * (a state, not an amount), or take the primary's own (it reloads the config for the group).
 */
export type AcrossWorkers = 'sum' | 'max' | 'min' | 'primary';

export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly acrossWorkers: AcrossWorkers;
  /** Exported only in some deployments (said in the help); every other metric is always there. */
  readonly only?: 'cluster.redis' | 'workers';
}

/** What an upstream answered, by the first digit of the status. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/**
 * Why a request was refused as malformed or over a `listen` limit, by the HTTP parser or by the
 * gateway's own checks. The parser's refusals come before any region is chosen, so this counter
 * has no region label.
 */
export const BAD_REQUEST_REASONS = [
  'malformed',
  'bad-host',
  'bad-framing',
  'method',
  'version',
  'headers-timeout',
  'request-timeout',
  'headers-too-large',
  'body-too-large',
  'expectation',
] as const;
export type BadRequestReason = (typeof BAD_REQUEST_REASONS)[number];

/** Why a kept copy was served instead of a fresh answer. */
export const STALE_REASONS = [
  'rate',
  'concurrency',
  'circuit-open',
  'surge',
  'upstream-5xx',
  'upstream-timeout',
  'upstream-unreachable',
] as const;
export type StaleReason = (typeof STALE_REASONS)[number];

export const LEASE_RESULTS = ['granted', 'empty', 'error'] as const;
export type LeaseResult = (typeof LEASE_RESULTS)[number];

/** Seconds; the same buckets for upstream and client-facing latency, so the two compare. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function spec(
  name: string,
  type: MetricType,
  labels: readonly string[],
  help: string,
  more: { acrossWorkers?: AcrossWorkers; only?: MetricSpec['only'] } = {},
): MetricSpec {
  return { name, type, labels, help, acrossWorkers: more.acrossWorkers ?? 'sum', ...more };
}

const REGION = ['region'] as const;

export const METRICS = {
  // Counted on the request path (plain numbers, rendered at scrape time).
  requests: spec(
    'floodgate_requests_total',
    'counter',
    ['region', 'outcome'],
    'Requests by region and outcome (forwarded, failover, stale, shed, error, local)',
  ),
  shed: spec(
    'floodgate_shed_total',
    'counter',
    ['region', 'reason', 'priority'],
    'Requests refused by region, reason and priority',
  ),
  wouldShed: spec(
    'floodgate_would_shed_total',
    'counter',
    ['region', 'reason', 'priority'],
    'Shadow-mode decisions that would have refused a request, by region, reason and priority',
  ),
  upstreamResponses: spec(
    'floodgate_upstream_responses_total',
    'counter',
    ['region', 'class'],
    'Responses the upstreams answered, by region and status class (1xx to 5xx)',
  ),
  upstreamEjections: spec(
    'floodgate_upstream_ejections_total',
    'counter',
    REGION,
    'Times an upstream host was taken out of rotation after consecutive failures',
  ),
  staleServed: spec(
    'floodgate_stale_served_total',
    'counter',
    ['region', 'reason'],
    'Kept stale copies served instead of a fresh answer, by region and why',
  ),
  badRequests: spec(
    'floodgate_bad_requests_total',
    'counter',
    ['reason'],
    'Requests refused as malformed or over a listen limit, by the HTTP parser or the gateway (400, 408, 413, 431, 501, 505)',
  ),
  upstreamDuration: spec(
    'floodgate_upstream_duration_seconds',
    'histogram',
    REGION,
    'Time from sending a request upstream to receiving its response headers, by region',
  ),
  requestDuration: spec(
    'floodgate_request_duration_seconds',
    'histogram',
    ['region', 'outcome'],
    'Time from a request arriving to its answer ending, as the client saw it, by region and outcome',
  ),
  // Read from the gateway's live state when scraped.
  breakerState: spec(
    'floodgate_breaker_state',
    'gauge',
    REGION,
    'Circuit breaker: 0 closed, 1 half-open, 2 open',
    { acrossWorkers: 'max' },
  ),
  regionTokens: spec('floodgate_region_tokens', 'gauge', REGION, 'Tokens in the region bucket'),
  regionCapacityRps: spec(
    'floodgate_region_capacity_rps',
    'gauge',
    REGION,
    'Configured capacity.rps of the region: the token refill rate it is provisioned for',
    { acrossWorkers: 'max' },
  ),
  regionBurst: spec('floodgate_region_burst', 'gauge', REGION, 'Configured capacity.burst of the region', {
    acrossWorkers: 'max',
  }),
  inflight: spec('floodgate_inflight', 'gauge', REGION, 'Requests in flight to the region'),
  inflightLimit: spec('floodgate_inflight_limit', 'gauge', REGION, 'Current in-flight cap of the region'),
  surging: spec('floodgate_region_surging', 'gauge', REGION, '1 while the region is surging', {
    acrossWorkers: 'max',
  }),
  baselineRps: spec('floodgate_region_baseline_rps', 'gauge', REGION, 'Learned baseline of offered rps'),
  currentRps: spec('floodgate_region_current_rps', 'gauge', REGION, 'Offered rps over the last seconds'),
  upstreamEjected: spec(
    'floodgate_upstream_ejected',
    'gauge',
    ['region', 'upstream'],
    '1 while an upstream is ejected from its region pool',
    { acrossWorkers: 'max' },
  ),
  staleBytes: spec(
    'floodgate_stale_cache_bytes',
    'gauge',
    [],
    'Bytes held by kept stale copies (bounded by staleCache.maxBytes)',
  ),
  staleEntries: spec('floodgate_stale_cache_entries', 'gauge', [], 'Stale copies kept'),
  staleCapturing: spec(
    'floodgate_stale_cache_capturing_bytes',
    'gauge',
    [],
    'Body bytes held by answers being copied for the stale cache as they stream (bounded by staleCache.maxBytes)',
  ),
  upgradedSockets: spec(
    'floodgate_upgraded_sockets',
    'gauge',
    [],
    'Connections taken over by an upgrade request (WebSocket handshakes and tunnels, and declined upgrades served on them), open now',
  ),
  // The process and its config.
  buildInfo: spec(
    'floodgate_build_info',
    'gauge',
    ['version', 'node'],
    'Always 1; the labels name the Floodgate and Node.js versions running',
    { acrossWorkers: 'primary' },
  ),
  configVersion: spec(
    'floodgate_config_version',
    'gauge',
    [],
    'Version of the config in use; bumps on every applied reload',
    { acrossWorkers: 'primary' },
  ),
  configReloads: spec('floodgate_config_reload_total', 'counter', ['result'], 'Config reloads by result', {
    acrossWorkers: 'primary',
  }),
  configLastReloadSuccessful: spec(
    'floodgate_config_last_reload_successful',
    'gauge',
    [],
    '1 when the last reload applied (or none was tried since start), 0 when it was rejected',
    { acrossWorkers: 'primary' },
  ),
  configLastReloadSuccessTimestamp: spec(
    'floodgate_config_last_reload_success_timestamp_seconds',
    'gauge',
    [],
    'Unix time the config in use was loaded (at start or by the last applied reload)',
    { acrossWorkers: 'primary' },
  ),
  workers: spec('floodgate_workers', 'gauge', [], 'Worker processes serving the public port (--workers)', {
    acrossWorkers: 'primary',
    only: 'workers',
  }),
  sharedLimitsUp: spec(
    'floodgate_shared_limits_up',
    'gauge',
    [],
    '1 while region limits are shared through Redis, 0 while falling back to the local share (cluster.redis)',
    // One worker cut off from Redis is enough for the group not to enforce the shared total.
    { acrossWorkers: 'min', only: 'cluster.redis' },
  ),
  sharedLimitsLeases: spec(
    'floodgate_shared_limits_leases_total',
    'counter',
    ['region', 'result'],
    'Leases asked of the shared bucket by region and result: granted, empty, error (cluster.redis)',
    { only: 'cluster.redis' },
  ),
  sharedLimitsLeasedTokens: spec(
    'floodgate_shared_limits_leased_tokens_total',
    'counter',
    REGION,
    'Tokens leased from the shared bucket by region (cluster.redis)',
    { only: 'cluster.redis' },
  ),
} as const satisfies Record<string, MetricSpec>;

export const ALL_METRICS: readonly MetricSpec[] = Object.values(METRICS);

/** The names a worker group combines a given way, for the primary's aggregation. */
export function namesCombined(how: AcrossWorkers): Set<string> {
  return new Set(ALL_METRICS.filter((m) => m.acrossWorkers === how).map((m) => m.name));
}

/** prom-client's name for how its cluster aggregation combines a metric. */
export function aggregatorOf(metric: MetricSpec): 'sum' | 'max' | 'min' | 'first' {
  return metric.acrossWorkers === 'primary' ? 'first' : metric.acrossWorkers;
}
