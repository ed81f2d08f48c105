// What the admin port needs from the running gateway. The admin server and the metrics read the
// gateway only through this view, so they can be tested against a fake and never reach into the
// request path's internals.

import type { Logger } from 'pino';
import type { BreakerState, Outcome } from '../domain.js';
import { logEvent } from '../observability/logger.js';
import type { StatusClass } from '../observability/metric-catalog.js';

export interface UpstreamView {
  url: string;
  inflight: number;
  ejected: boolean;
}

export interface RegionView {
  breaker: BreakerState;
  inflight: number;
  inflightLimit: number;
  tokens: number;
  burst: number;
  rps: number;
  admittedRps: number;
  shedRps: number;
  baselineRps: number;
  currentRps: number;
  surging: boolean;
  /** Upstream latency over the recent window. */
  p50Ms: number;
  p99Ms: number;
  /** Cumulative counts since the region was created. */
  outcomes: Record<Outcome, number>;
  /** Cumulative counts of what the upstreams answered, by status class. */
  upstreamResponses: Record<StatusClass, number>;
  /** Cumulative counts by reason, then priority; shadow-mode decisions use the key `would-shed:<reason>`. */
  shed: Record<string, Record<string, number>>;
  upstreams: UpstreamView[];
}

export interface ConfigInfo {
  version: number;
  loadedAt: string;
  lastError: string | null;
}

/** `shuttingDown`: not applied because the gateway is stopping, which says nothing against the file. */
type NotApplied = { ok: false; errors: string[]; shuttingDown?: true };
export type ReloadResult = { ok: true; version: number } | NotApplied;

/**
 * The answer to a reload asked for while the gateway (or worker group) shuts down, logged: nothing is
 * wrong with the file, so it is neither counted as rejected nor kept as the last error.
 */
export function notAppliedWhileStopping(file: string, logger: Logger): NotApplied {
  const errors = [`${file}: not applied: the gateway is shutting down`];
  logEvent(logger, 'reload-not-applied', { file, errors });
  return { ok: false, errors, shuttingDown: true };
}

export interface AdminView {
  regions(): Record<string, RegionView>;
  configInfo(): ConfigInfo;
  reload(): Promise<ReloadResult>;
  ready(): boolean;
}
