// The words the whole gateway shares, declared once: the request path, the metrics, the admin view
// and the dashboard all derive from these lists. Priorities live with the admission core
// (admission/priority.ts), which ranks them.

/**
 * How a routed request ended, as counted in `floodgate_requests_total{outcome}` (contract §4), and
 * `local`: a TRACE or OPTIONS whose `max-forwards` ran out, answered by the gateway itself.
 */
export const OUTCOMES = ['forwarded', 'failover', 'stale', 'shed', 'error', 'local'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** HTTP 499: the client closed the connection before the answer (nginx's convention, for logs only). */
export const CLIENT_CLOSED = 499;

/** A breaker's states, in the order of their `floodgate_breaker_state` values (0, 1, 2). */
export const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export function breakerStateCode(state: BreakerState): number {
  return BREAKER_STATES.indexOf(state);
}

/** The `x-floodgate-shed` reasons: why a request was refused to protect a region or the gateway. */
export const SHED_REASONS = ['rate', 'concurrency', 'surge', 'circuit-open', 'client-rate'] as const;
export type ShedReason = (typeof SHED_REASONS)[number];
