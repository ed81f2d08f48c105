import type { IncomingMessage } from 'node:http';
import type { Outcome } from '../admin/admin-view.js';
import type { Clock } from '../admission/clock.js';
import type { Priority } from '../admission/priority.js';
import type { StaleCache } from '../cache/stale-cache.js';
import type { Region } from '../region.js';

/** What an exchange needs from the gateway around it; one object shared by every request. */
export interface ExchangeEnvironment {
  readonly clock: Clock;
  readonly staleCache: StaleCache;
  /** Counts and logs a finished request: metrics and the access log line. */
  record(
    region: Region,
    outcome: Outcome,
    status: number,
    priority: Priority,
    req: IncomingMessage,
    startedAt: number,
  ): void;
}
