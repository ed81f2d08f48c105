import { Pool } from 'undici';
import type { Clock } from '../admission/clock.js';
import { parseUpstreamOrigin } from '../config/origins.js';
import { DEFAULT_EJECTION_OPTIONS, OutlierEjection } from './outlier-ejection.js';
import { watchedConnector } from './upstream-sockets.js';

export interface UpstreamHost {
  readonly url: string;
  readonly pool: Pool;
  inflight: number;
}

/** TLS for a region's https:// upstreams, passed to undici as its connect options (node:tls). */
export interface UpstreamTls {
  /** Replaces the system's trusted CAs when set. */
  readonly ca?: Buffer;
  /** Unset: undici sends the URL's host as SNI (none for an address) and verifies against it. */
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

/**
 * One region's upstream hosts, each with its own keep-alive undici Pool. Requests go to the host
 * with the fewest in flight among those not ejected; ties rotate so equal hosts share the load.
 */
export class UpstreamSet {
  readonly hosts: UpstreamHost[];
  readonly ejection: OutlierEjection;
  private rotation = 0;

  /** Throws, before any pool is made, on a URL that validation (the same parser) would have refused. */
  constructor(
    urls: string[],
    connectionsPerHost: number,
    clock: Clock,
    /** The region's TLS for https upstreams, which WebSocket tunnels use too. */
    readonly tls?: UpstreamTls,
  ) {
    const origins = urls.map((url) => {
      const parsed = parseUpstreamOrigin(url);
      if (!parsed.ok) throw new TypeError(`Invalid URL: ${parsed.problem}`);
      return parsed.url;
    });
    const connect = watchedConnector(tls);
    const options = { connections: connectionsPerHost, pipelining: 1, keepAliveTimeout: 4_000, connect };
    this.hosts = origins.map((url) => ({ url, pool: new Pool(url, options), inflight: 0 }));
    this.ejection = new OutlierEjection(urls.length, DEFAULT_EJECTION_OPTIONS, clock);
  }

  /** The index of the host to use next. */
  pick(): number {
    const count = this.hosts.length;
    if (count === 1) return 0;
    this.rotation = (this.rotation + 1) % count;
    let best = -1;
    let bestInflight = Number.POSITIVE_INFINITY;
    for (let k = 0; k < count; k++) {
      const i = (this.rotation + k) % count;
      const inflight = this.hosts[i]!.inflight;
      if (inflight < bestInflight && !this.ejection.isEjected(i)) {
        best = i;
        bestInflight = inflight;
      }
    }
    return best === -1 ? this.rotation : best;
  }

  /** Whether pools built for these hosts and TLS settings would be the same as these. */
  sameSetup(urls: string[], tls: UpstreamTls | undefined): boolean {
    const sameUrls = urls.length === this.hosts.length && urls.every((u, i) => u === this.hosts[i]!.url);
    return sameUrls && sameTls(this.tls, tls);
  }

  /**
   * Closes every pool once its requests have finished; `abandon`: after ABANDON_AFTER_MS at most.
   * A request answered when its timer ran out before it had a connection stays queued in undici
   * until its connect timeout (10 s), and shutdown, its grace period over, has no one left to wait
   * for. Not at once: the requests shutdown has just cut still report how they ended.
   */
  async close(how: 'drain' | 'abandon' = 'drain'): Promise<void> {
    await Promise.all(this.hosts.map((h) => (how === 'abandon' ? closeWithin(h.pool) : h.pool.close())));
  }
}

const ABANDON_AFTER_MS = 1000;

async function closeWithin(pool: Pool): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(resolve, ABANDON_AFTER_MS, 'late');
  });
  const closed = await Promise.race([pool.close().then(() => 'closed' as const), late]);
  clearTimeout(timer);
  if (closed === 'late') await pool.destroy();
}

function sameTls(a: UpstreamTls | undefined, b: UpstreamTls | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const sameCa = a.ca === undefined || b.ca === undefined ? a.ca === b.ca : a.ca.equals(b.ca);
  return sameCa && a.servername === b.servername && a.rejectUnauthorized === b.rejectUnauthorized;
}
