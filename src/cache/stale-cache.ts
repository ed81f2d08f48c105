/**
 * Last good responses, kept to answer when a route's region sheds or fails. Bounded in bytes by
 * lru-cache (least recently served copies go first) and expired per entry by its route's ttl.
 *
 * Expiry is kept here rather than in lru-cache: lru-cache treats a start time of 0 as "no ttl"
 * and caches its clock reading for a moment, both of which mislead an injected clock.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../admission/clock.js';

export interface StaleEntry {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** When the copy was taken, on the cache's clock (see `ageSeconds`). */
  storedAt: number;
}

export interface StaleCacheOptions {
  maxBytes: number;
  maxEntryBytes: number;
}

interface StoredEntry {
  entry: StaleEntry;
  expiresAt: number;
  size: number;
}

/** Bookkeeping per entry (the key, the wrapper objects), so many tiny entries still add up. */
const ENTRY_OVERHEAD_BYTES = 128;

export class StaleCache {
  private readonly entries: LRUCache<string, StoredEntry>;
  private readonly maxEntryBytes: number;

  constructor(
    opts: StaleCacheOptions,
    private readonly clock: Clock,
  ) {
    this.maxEntryBytes = Math.min(opts.maxEntryBytes, opts.maxBytes);
    this.entries = new LRUCache<string, StoredEntry>({
      maxSize: opts.maxBytes,
      maxEntrySize: this.maxEntryBytes,
      sizeCalculation: sizeOfStored,
    });
  }

  /**
   * Whether a response may be kept: status 200, not marked `no-store` or `private`, no `set-cookie`
   * (one client's cookie must never reach another), and not `vary: *`. Header names are lower case.
   */
  static cacheable(status: number, headers: Record<string, string | string[] | undefined>): boolean {
    if (status !== 200) return false;
    if (headers['set-cookie'] !== undefined) return false;
    if (hasToken(headers.vary, '*')) return false;
    const cacheControl = headers['cache-control'];
    return !hasToken(cacheControl, 'no-store') && !hasToken(cacheControl, 'private');
  }

  get size(): number {
    return this.entries.size;
  }

  get calculatedBytes(): number {
    return this.entries.calculatedSize;
  }

  get(key: string): StaleEntry | undefined {
    const stored = this.entries.get(key);
    if (stored === undefined) return undefined;
    if (this.clock() >= stored.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return stored.entry;
  }

  /**
   * Keeps `entry` for `ttlMs` from now. Returns false, keeping any earlier copy, when the entry is
   * larger than `maxEntryBytes`.
   */
  set(key: string, entry: StaleEntry, ttlMs: number): boolean {
    const size = key.length + entry.body.length + headerBytes(entry.headers) + ENTRY_OVERHEAD_BYTES;
    if (size > this.maxEntryBytes || ttlMs <= 0) return false;
    this.entries.set(key, { entry, expiresAt: this.clock() + ttlMs, size }, { size });
    return true;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Whole seconds since the copy was taken, for the `age` header. */
  ageSeconds(entry: StaleEntry): number {
    return Math.max(0, Math.floor((this.clock() - entry.storedAt) / 1000));
  }

  /** A capture bounded like this cache's entries. */
  capture(): BodyCapture {
    return new BodyCapture(this.maxEntryBytes);
  }
}

/**
 * Collects a streaming response body for the cache while it is forwarded, up to `maxBytes`. Once
 * the body is larger it lets go of everything it held and ignores the rest.
 */
export class BodyCapture {
  private chunks: Buffer[] | undefined = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** False once the body is over the bound (or after `finish`); the caller may stop pushing then. */
  push(chunk: Buffer): boolean {
    const chunks = this.chunks;
    if (chunks === undefined) return false;
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.chunks = undefined;
      return false;
    }
    chunks.push(chunk);
    return true;
  }

  /** The whole body, or undefined when it went over the bound. */
  finish(): Buffer | undefined {
    const chunks = this.chunks;
    if (chunks === undefined) return undefined;
    this.chunks = undefined;
    // A dedicated allocation: a slice of the shared pool, or a chunk that is a view into a larger
    // socket read, would keep far more memory alive than the cache accounts for.
    const body = Buffer.allocUnsafeSlow(this.bytes);
    let offset = 0;
    for (const chunk of chunks) offset += chunk.copy(body, offset);
    return body;
  }
}

function sizeOfStored(stored: StoredEntry): number {
  return stored.size;
}

function headerBytes(headers: Record<string, string | string[]>): number {
  let bytes = 0;
  for (const name in headers) {
    const value = headers[name];
    bytes += name.length + 4;
    if (typeof value === 'string') bytes += value.length;
    else if (value !== undefined) for (const item of value) bytes += name.length + 4 + item.length;
  }
  return bytes;
}

/** Whether a comma-separated header holds `token` as a directive name (case-insensitive). */
function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'string') return value.some((item) => hasToken(item, token));
  const haystack = value.toLowerCase();
  let from = haystack.indexOf(token);
  while (from !== -1) {
    const end = from + token.length;
    if (isDirectiveBoundary(haystack, from - 1, true) && isDirectiveBoundary(haystack, end, false))
      return true;
    from = haystack.indexOf(token, end);
  }
  return false;
}

function isDirectiveBoundary(text: string, index: number, before: boolean): boolean {
  if (index < 0 || index >= text.length) return true;
  const char = text[index];
  if (char === ',' || char === ' ' || char === '\t') return true;
  // `private="set-cookie"`: the name ends where its argument begins.
  return !before && char === '=';
}
