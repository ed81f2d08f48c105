/**
 * Last good responses, kept by the rules of a shared cache (RFC 9111, see cache-rules.ts) to answer
 * when a route's region sheds or fails. Bounded in bytes by lru-cache: one entry per target (key:
 * home region, method, scheme, Host, path and query) holding up to `MAX_VARIANTS` copies that differ
 * by the headers their Vary names, the least recently served target going first. Each copy expires
 * after its route's ttl, or sooner when it may only be served while fresh.
 *
 * Expiry is kept here rather than in lru-cache: lru-cache treats a start time of 0 as "no ttl"
 * and caches its clock reading for a moment, both of which mislead an injected clock.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type CachePolicy from 'http-cache-semantics';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../admission/clock.js';
import type { CaptureBudget } from './body-capture.js';
import {
  ageSeconds,
  answers,
  type CacheRequest,
  cacheKey,
  clockedPolicy,
  mayBeKept,
  refusedByContract,
  requestForPolicy,
  responseForPolicy,
  usefulForMs,
  variantOf,
  varyNames,
} from './cache-rules.js';
import { type Capture, type Copy, type CopySink, EMPTY, keptHeaders, PendingCopy } from './kept-copy.js';
import { clientHoldsCopy, notModifiedHeaders } from './validation.js';

export type { CacheRequest, Capture };

export interface StaleCacheOptions {
  maxBytes: number;
  maxEntryBytes: number;
  /**
   * Wall-clock milliseconds at which `clock` read 0; defaults to now. Freshness from `Expires`
   * and `Date` needs wall time; ages only need differences, which the monotonic clock gives.
   */
  epochAtZeroMs?: number;
}

/** A kept copy ready to be written: `res.writeHead(status, headers)` then `res.end(body)`. */
export interface StaleAnswer {
  status: number;
  /**
   * Flat `[name, value, ...]`: the upstream's headers as the client first got them (hop-by-hop and
   * `x-floodgate-*` left out; for a 304, only those RFC 9110 §15.4.5 lists), then `content-length`
   * (not on a 304), `age` in whole seconds and `x-floodgate-cache: stale`. A fresh list: the
   * caller appends `x-floodgate-region`.
   */
  headers: string[];
  body: Buffer;
}

type Held = { kind: 'copies'; copies: readonly Copy[]; size: number };

/** How old the newest copy of a target may be before an answer is copied again. */
export const REFRESH_AFTER_MS = 1_000;

/** Invalidations remembered for captures under way: far more targets than are written to at once. */
const FORGOTTEN_TARGETS = 10_000;

/** Variants kept per target: enough for encodings and languages, few enough to scan per lookup. */
export const MAX_VARIANTS = 8;

export class StaleCache implements CopySink {
  private readonly entries: LRUCache<string, Held>;
  private readonly maxBytes: number;
  private readonly maxEntryBytes: number;
  // Captures under way hold at most as much again as the copies kept.
  private readonly captureBounds: { maxBytes: number; budget: CaptureBudget };
  private readonly Policy: typeof CachePolicy;
  private readonly wallClock: () => number;
  // When each target was last invalidated, for the captures under way then (see `keep`). Bounded:
  // only a capture that outlives FORGOTTEN_TARGETS later invalidations could miss its mark.
  private readonly forgotten = new LRUCache<string, number>({ max: FORGOTTEN_TARGETS });
  /** Copies served by `lookup` since the cache was made. */
  servedTotal = 0;

  constructor(
    opts: StaleCacheOptions,
    private readonly clock: Clock,
  ) {
    this.maxBytes = opts.maxBytes;
    this.maxEntryBytes = Math.min(opts.maxEntryBytes, opts.maxBytes);
    this.captureBounds = { maxBytes: this.maxEntryBytes, budget: { held: 0, limit: opts.maxBytes } };
    const epochAtZero = opts.epochAtZeroMs ?? Date.now() - clock();
    this.wallClock = () => epochAtZero + clock();
    this.Policy = clockedPolicy(this.wallClock);
    this.entries = new LRUCache<string, Held>({ maxSize: opts.maxBytes, sizeCalculation: sizeOfHeld });
  }

  /**
   * The check `captureFor` starts with, for a caller that would otherwise build a CacheRequest for
   * every response: false means the response can never be kept.
   */
  static mayKeep(method: string, status: number, ttlMs: number | undefined): boolean {
    return mayBeKept(method, status, ttlMs);
  }

  /** Targets held (each with one or more variants). */
  get size(): number {
    return this.entries.size;
  }

  /** Body bytes held by the captures under way, never above `maxBytes`. */
  get bytesCapturing(): number {
    return this.captureBounds.budget.held;
  }

  /** Bytes accounted for all kept copies together, never above `maxBytes`. */
  get bytesHeld(): number {
    return this.entries.calculatedSize;
  }

  /**
   * Starts copying a response that may be kept, or returns undefined. `ttlMs` is the route's
   * (undefined: the route keeps no copies). The status, method and route are checked before any
   * header is read, so responses that can never be kept cost nothing more.
   */
  captureFor(
    request: CacheRequest,
    status: number,
    headers: IncomingHttpHeaders,
    ttlMs: number | undefined,
  ): Capture | undefined {
    if (!mayBeKept(request.method, status, ttlMs)) return undefined;
    const key = cacheKey(request);
    if (headers.vary === undefined && this.keptRecently(key)) return undefined;
    const response = responseForPolicy(status, headers, this.wallClock());
    const vary = varyNames(response.headers);
    if (refusedByContract(request, headers, vary)) return undefined;
    const shown = requestForPolicy(request, vary);
    const policy = new this.Policy(shown, response, { shared: true });
    if (!policy.storable()) return undefined;
    const usefulMs = usefulForMs(policy, ttlMs!);
    if (usefulMs <= 0) return undefined;
    const declared = headers['content-length'];
    return new PendingCopy(this, this.captureBounds, {
      key,
      declaredBytes: typeof declared === 'string' ? Number(declared) : undefined,
      copy: {
        policy,
        vary,
        variant: variantOf(shown, vary),
        status,
        headers: keptHeaders(headers, this.wallClock()),
        body: EMPTY,
        keptAt: this.clock(),
        expiresAt: this.clock() + usefulMs,
        size: 0,
      },
    });
  }

  /**
   * Whether the newest copy of `key` was taken less than REFRESH_AFTER_MS ago and varies on
   * nothing. A copy a second old serves a failing origin as well as a new one, and taking a new
   * copy of every answer would put the caching rules on the hot path of a busy route. Skipping a
   * capture never stores anything, so it cannot let an answer reach a request it must not.
   */
  private keptRecently(key: string): boolean {
    const newest = this.entries.peek(key)?.copies[0];
    return (
      newest !== undefined && newest.vary.length === 0 && this.clock() - newest.keptAt < REFRESH_AFTER_MS
    );
  }

  /**
   * A kept copy that may answer `request` now (see `answers` in cache-rules.ts), ready to write;
   * or undefined. A conditional request for what the client already holds gets `304` and no body
   * (validation.ts). Counts it in `servedTotal` and makes its target recently used.
   */
  lookup(request: CacheRequest): StaleAnswer | undefined {
    const key = cacheKey(request);
    const copy = this.find(key, request);
    if (copy === undefined) return undefined;
    this.entries.get(key);
    this.servedTotal++;
    const age = String(ageSeconds(copy.policy));
    if (clientHoldsCopy(request.headers, copy.headers)) {
      const headers = notModifiedHeaders(copy.headers);
      headers.push('age', age, 'x-floodgate-cache', 'stale');
      return { status: 304, headers, body: EMPTY };
    }
    const headers = copy.headers.slice();
    headers.push('content-length', String(copy.body.length), 'age', age, 'x-floodgate-cache', 'stale');
    return { status: copy.status, headers, body: copy.body };
  }

  /** Whether `lookup` would answer `request` now; nothing is counted or refreshed. */
  has(request: CacheRequest): boolean {
    return this.find(cacheKey(request), request) !== undefined;
  }

  private find(key: string, request: CacheRequest): Copy | undefined {
    if (request.method !== 'GET') return undefined;
    // A peek: only a copy actually served makes its target recently used.
    const held = this.entries.peek(key);
    if (held?.kind !== 'copies') return undefined;
    const now = this.clock();
    for (const copy of held.copies) if (now < copy.expiresAt && answers(copy, request)) return copy;
    this.dropExpired(key, held.copies, now);
    return undefined;
  }

  /**
   * Called by a finished capture. Returns false, keeping the earlier copies, when it is too large,
   * or when its target was invalidated after the capture began: its body may say what an unsafe
   * request has since changed (a GET under way while a DELETE succeeded).
   */
  keep(key: string, copy: Copy): boolean {
    if (copy.size > this.maxEntryBytes) return false;
    const forgottenAt = this.forgotten.get(key);
    if (forgottenAt !== undefined && copy.keptAt <= forgottenAt) return false;
    const held = this.entries.peek(key);
    const now = this.clock();
    const copies = [copy];
    if (held?.kind === 'copies') {
      for (const other of held.copies) {
        const same = other.variant === copy.variant;
        if (!same && now < other.expiresAt && copies.length < MAX_VARIANTS) copies.push(other);
      }
    }
    this.store(key, copies);
    return true;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /**
   * Forgets every copy of `request`'s target, for each of `regions`: after an unsafe request to it
   * succeeded, the copies may say what is no longer so (RFC 9111 §4.4, a MUST). The request's own
   * method and region do not matter; copies are of GETs, kept per home region.
   */
  invalidate(request: CacheRequest, regions: Iterable<string>): void {
    const now = this.clock();
    for (const region of regions) {
      const key = cacheKey({ ...request, region });
      this.entries.delete(key);
      this.forgotten.set(key, now);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Takes the live copies of `previous`, a store of other bounds that a reload replaces: the most
   * recently served first as far as this one's `maxBytes` goes, none larger than its
   * `maxEntryBytes`. `previous` is only read, so a reload that fails after this keeps it whole.
   */
  takeCopiesOf(previous: StaleCache): void {
    const now = this.clock();
    // Least recently used first, so that when this store fills, those are the ones it lets go.
    previous.entries.rforEach((held, key) => {
      const copies = held.copies.filter((copy) => now < copy.expiresAt && copy.size <= this.maxEntryBytes);
      if (copies.length > 0) this.store(key, copies);
    });
  }

  private dropExpired(key: string, copies: readonly Copy[], now: number): void {
    const live = copies.filter((copy) => now < copy.expiresAt);
    if (live.length === copies.length) return;
    if (live.length === 0) this.entries.delete(key);
    else this.store(key, live);
  }

  private store(key: string, copies: Copy[]): void {
    let size = 0;
    for (const copy of copies) size += copy.size;
    // Variants together stay within the whole bound: the oldest go first.
    while (size > this.maxBytes && copies.length > 1) size -= copies.pop()!.size;
    this.entries.set(key, { kind: 'copies', copies, size });
  }
}

function sizeOfHeld(held: Held): number {
  return held.size;
}
