import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Outcome } from '../admin/admin-view.js';
import type { Clock } from '../admission/clock.js';
import type { Priority } from '../admission/priority.js';
import type { StaleCache } from '../cache/stale-cache.js';
import type { Region } from '../region.js';
import type { Route } from '../routing/route-table.js';

/** What an exchange needs from the gateway around it; one object shared by every request. */
export interface ExchangeEnvironment {
  readonly clock: Clock;
  readonly staleCache: StaleCache;
  /**
   * Sends a request its home region could not reach to the first failover region with room.
   * `handOver` runs just before the new exchange starts; false when no region could take it.
   */
  failOver(
    req: IncomingMessage,
    res: ServerResponse,
    home: Region,
    route: Route,
    priority: Priority,
    path: string,
    startedAt: number,
    handOver: () => void,
  ): boolean;
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
