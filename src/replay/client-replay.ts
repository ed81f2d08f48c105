import { ClientBuckets } from '../admission/client-buckets.js';
import { ClientLimiter, type ClientLimitOptions } from '../admission/client-limiter.js';
import type { Clock } from '../admission/clock.js';
import { NO_ID } from './interned-strings.js';
import type { ClientFields } from './replay-request.js';

/**
 * The client limit under replay: the gateway's own buckets (ClientBuckets) and, once it can make a
 * difference, its own LRU of clients (ClientLimiter).
 *
 * Why not the ClientLimiter throughout: its LRU lookup, by an address among thousands, was a fifth
 * of replay's time (about 0.7 µs of 3.5 per line, measured by taking it out). Replay has already
 * numbered the addresses as it read them (ClientFields), so a client's bucket can be found at its
 * number instead.
 *
 * Why that decides the same: the LRU forgets a client only when a new one arrives while it holds
 * maxKeys. Until then every client keeps its bucket, and buckets found by number, with the same
 * arithmetic, hold the same tokens. The first time that may no longer be so (a new client beyond
 * maxKeys, or an address given as text, which may be one seen before under a number) the buckets
 * move into a ClientLimiter, least recently used first, which is the order its LRU would have
 * had, and it decides every request from then on.
 */
export class ClientReplay {
  private readonly clock: Clock;
  private readonly options: ClientLimitOptions;
  private readonly addressOf: (id: number) => string;
  private buckets: ClientBuckets | undefined;
  // By id: when it was last used, as a count of requests; -1 before its first. Ids come in arrival
  // order, not the order they were handed out in, so the table has gaps.
  private lastUsed = new Float64Array(1024).fill(-1);
  private seen: number[] = [];
  private uses = 0;
  private limiter: ClientLimiter | undefined;

  /** `addressOf`: the address a client's id stands for. */
  constructor(options: ClientLimitOptions, clock: Clock, addressOf: (id: number) => string) {
    this.clock = clock;
    this.options = options;
    this.addressOf = addressOf;
    this.buckets = new ClientBuckets(options.rps, options.burst);
  }

  /** Whether the buckets have moved into a ClientLimiter. */
  get keyedByAddress(): boolean {
    return this.limiter !== undefined;
  }

  /** Takes one token from the client's bucket; false when it is over its limit. */
  tryTake(client: ClientFields): boolean {
    const buckets = this.buckets;
    const id = client.clientId;
    if (buckets === undefined) return this.limiter!.tryTake(this.address(client));
    if (id !== NO_ID && id < this.lastUsed.length && this.lastUsed[id]! >= 0) {
      this.lastUsed[id] = this.uses++;
      return buckets.take(id, this.clock());
    }
    if (id === NO_ID || this.seen.length === this.options.maxKeys)
      return this.toLimiter(buckets).tryTake(this.address(client));
    if (id >= this.lastUsed.length) this.grow(id);
    this.seen.push(id);
    this.lastUsed[id] = this.uses++;
    buckets.start(id, this.clock());
    return true;
  }

  private address(client: ClientFields): string {
    return client.clientId === NO_ID ? client.client! : this.addressOf(client.clientId);
  }

  private grow(id: number): void {
    let size = this.lastUsed.length;
    while (size <= id) size *= 2;
    const lastUsed = new Float64Array(size).fill(-1);
    lastUsed.set(this.lastUsed);
    this.lastUsed = lastUsed;
  }

  private toLimiter(buckets: ClientBuckets): ClientLimiter {
    const limiter = new ClientLimiter(this.options, this.clock);
    const lastUsed = this.lastUsed;
    for (const id of this.seen.sort((a, b) => lastUsed[a]! - lastUsed[b]!))
      limiter.adopt(this.addressOf(id), buckets, id);
    this.limiter = limiter;
    this.buckets = undefined;
    this.lastUsed = new Float64Array(0);
    this.seen = [];
    return limiter;
  }
}
