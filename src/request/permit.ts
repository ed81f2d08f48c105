import type { Region } from '../region.js';
import type { BreakerCall } from '../upstream/breaker.js';
import type { UpstreamHost, UpstreamSet } from '../upstream/pools.js';

/** What a region learns from one admitted request: its upstream answered, failed, or neither. */
export type Verdict = 'ok' | 'failed' | 'neutral';

/**
 * Everything an admitted request holds in one region: its in-flight slot, its breaker call and,
 * once chosen, its upstream host. `settle` gives all of it back at once and tells the breaker and
 * outlier ejection what happened, the shape of Netflix's limiter listener. The holder settles
 * exactly once: the exchange or the tunnel when it ends, or whoever finds the request will not go.
 *
 * The breaker call is taken when the request is about to leave (`beginCall`), not at admission: a
 * request waiting for its turn must not hold the half-open probe while it waits, nor go to a
 * region whose breaker opened meanwhile.
 */
export class Permit {
  private upstreams: UpstreamSet | undefined;
  private hostIndex = -1;
  host: UpstreamHost | undefined;
  private call: BreakerCall | null = null;

  constructor(readonly region: Region) {}

  /** Takes the region's breaker call; false when the breaker does not let the request go now. */
  beginCall(): boolean {
    this.call = this.region.breaker.begin();
    return this.call !== null;
  }

  /** The region's least busy host; counted as busy until the permit is settled. */
  pickHost(): UpstreamHost {
    // Held until settled: a reload may swap the region's upstream set meanwhile.
    const upstreams = this.region.upstreams;
    this.upstreams = upstreams;
    this.hostIndex = upstreams.pick();
    const host = upstreams.hosts[this.hostIndex]!;
    host.inflight++;
    this.host = host;
    return host;
  }

  settle(verdict: Verdict): void {
    const host = this.host;
    if (host !== undefined) {
      host.inflight--;
      if (verdict === 'ok') this.upstreams!.ejection.success(this.hostIndex);
      else if (verdict === 'failed' && this.upstreams!.ejection.failure(this.hostIndex))
        this.region.metrics.upstreamEjected();
    }
    // A request never sent took no call: there is nothing for the breaker to learn.
    const call = this.call;
    if (call !== null) {
      if (verdict === 'ok') call.succeed();
      else if (verdict === 'failed') call.fail();
      else call.cancel();
    }
    this.region.admission.release();
  }
}
