/** The parts of Floodgate's config file the scenarios write (see the contract, section 2). */
export interface RegionConfig {
  upstreams: string[];
  capacity: {
    rps: number;
    burst?: number;
    maxConcurrent?: number;
    adaptive?: boolean;
    minConcurrent?: number;
  };
  timeoutMs?: number;
  breaker?: {
    errorThresholdPercentage?: number;
    volumeThreshold?: number;
    windowMs?: number;
    resetTimeoutMs?: number;
  };
  failover?: string[];
}

export type Priority = 'critical' | 'high' | 'normal' | 'low';

export interface RouteConfig {
  match: { pathPrefix: string };
  priority: Priority;
  staleCache?: { ttlMs: number };
}

export interface FloodgateConfig {
  regions: Record<string, RegionConfig>;
  routing: { header: string; default: string };
  routes?: RouteConfig[];
  clientLimit?: { key: string; rps: number; burst: number; maxKeys?: number };
  staleCache?: { maxBytes: number };
  shedding?: { mode?: 'enforce' | 'shadow'; retryAfterSeconds?: number; reserve?: Record<string, number> };
  surge?: {
    factor?: number;
    halfLifeMs?: number;
    minRps?: number;
    shedBelow?: Priority;
    baselineRps?: number;
  };
  cluster?: { redis?: string; instances?: number };
  shutdownGraceMs?: number;
  log?: { level: string };
}

/** The video site's routes: the player is critical, like counts are cacheable, notifications can wait. */
export const VIDEO_SITE_ROUTES: RouteConfig[] = [
  { match: { pathPrefix: '/api/video' }, priority: 'critical' },
  { match: { pathPrefix: '/api/likes' }, priority: 'normal', staleCache: { ttlMs: 60_000 } },
  { match: { pathPrefix: '/api/notifications' }, priority: 'low' },
];

export interface RegionSizing {
  rps: number;
  burst: number;
  maxConcurrent: number;
  timeoutMs: number;
  failover?: string[];
}

export function regionConfig(upstreams: string[], sizing: RegionSizing): RegionConfig {
  return {
    upstreams,
    capacity: { rps: sizing.rps, burst: sizing.burst, maxConcurrent: sizing.maxConcurrent },
    timeoutMs: sizing.timeoutMs,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, windowMs: 5000, resetTimeoutMs: 2000 },
    ...(sizing.failover ? { failover: sizing.failover } : {}),
  };
}

/** Region name -> Floodgate region, with routing defaulting to the first region. */
export function videoSiteConfig(
  regions: Record<string, RegionConfig>,
  extra: Partial<FloodgateConfig> = {},
): FloodgateConfig {
  const first = Object.keys(regions)[0];
  if (first === undefined) throw new Error('at least one region is needed');
  return {
    regions,
    routing: { header: 'x-region', default: first },
    routes: VIDEO_SITE_ROUTES,
    shedding: { mode: 'enforce', retryAfterSeconds: 1 },
    ...extra,
  };
}
