/** The gateway config a soak runs under: two regions that fail over to each other, a stale route and a client limit. */
export interface SoakConfigInput {
  port: number;
  adminPort: number;
  adminToken: string;
  east: string[];
  west: string[];
  /** capacity.rps of each region. */
  capacityRps: number;
  /** Bumped on every reload so each reload changes something real. */
  generation: number;
}

export const ROUTING_HEADER = 'x-region';
export const CLIENT_KEY_HEADER = 'x-api-key';
export const UPSTREAM_TIMEOUT_MS = 1000;

export function soakConfig(input: SoakConfigInput): Record<string, unknown> {
  // Alternate generations nudge the limits, so a reload swaps real values while traffic runs.
  const nudge = input.generation % 2 === 0 ? 1 : 1.05;
  const region = (upstreams: string[], failover: string) => ({
    upstreams,
    capacity: {
      rps: Math.round(input.capacityRps * nudge),
      burst: Math.max(1, Math.round(input.capacityRps / 2)),
      maxConcurrent: 256,
    },
    timeoutMs: UPSTREAM_TIMEOUT_MS,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 20, windowMs: 5000, resetTimeoutMs: 2000 },
    failover: [failover],
  });
  return {
    listen: {
      host: '127.0.0.1',
      port: input.port,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 15_000,
      maxBodyBytes: 1_048_576,
    },
    admin: { host: '127.0.0.1', port: input.adminPort, token: input.adminToken },
    shutdownGraceMs: 5000,
    regions: { 'us-east': region(input.east, 'us-west'), 'us-west': region(input.west, 'us-east') },
    routing: { header: ROUTING_HEADER, default: 'us-east' },
    routes: [
      { match: { pathPrefix: '/soak/upload' }, priority: 'high' },
      { match: { pathPrefix: '/soak/likes' }, priority: 'low', staleCache: { ttlMs: 30_000 } },
    ],
    clientLimit: { key: `header:${CLIENT_KEY_HEADER}`, rps: 50, burst: 100, maxKeys: 5000 },
    staleCache: { maxBytes: 4 * 1_048_576 },
    shedding: { mode: 'enforce', retryAfterSeconds: 1 + (input.generation % 2) },
    surge: { factor: 2, halfLifeMs: 60_000, minRps: 10 },
    log: { level: 'error', access: false },
  };
}
