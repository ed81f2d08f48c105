import { Counter, Gauge, type Registry } from 'prom-client';

export type LeaseResult = 'granted' | 'empty' | 'error';

/** What the shared limits report; the Prometheus implementation is below, tests pass a recorder. */
export interface SharedLimitsMetrics {
  setUp(up: boolean): void;
  lease(region: string, result: LeaseResult, tokens: number): void;
}

/**
 * The shared-limit series, registered on the gateway's registry. Leases happen tens of times a
 * second, not per request, so prom-client's own counters are cheap enough here.
 */
export function sharedLimitsMetrics(registry: Registry): SharedLimitsMetrics {
  const up = new Gauge({
    name: 'floodgate_shared_limits_up',
    help: '1 while region limits are shared through Redis, 0 while falling back to the local share',
    registers: [registry],
    // One worker cut off from Redis is enough for the group not to enforce the shared total.
    aggregator: 'min',
  });
  const leases = new Counter({
    name: 'floodgate_shared_limits_leases_total',
    help: 'Leases asked of the shared bucket by region and result (granted, empty, error)',
    labelNames: ['region', 'result'],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'floodgate_shared_limits_leased_tokens_total',
    help: 'Tokens leased from the shared bucket by region',
    labelNames: ['region'],
    registers: [registry],
  });
  up.set(0);
  return {
    setUp: (value) => up.set(value ? 1 : 0),
    lease(region, result, granted) {
      leases.inc({ region, result });
      if (granted > 0) tokens.inc({ region }, granted);
    },
  };
}
