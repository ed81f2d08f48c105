import type { IncomingHttpHeaders } from 'node:http';
import { beforeEach } from 'vitest';
import { type CacheRequest, StaleCache, type StaleCacheOptions } from '../../src/cache/stale-cache.js';

/** A fake clock for stale-cache tests: set `fakeNow.ms` by hand, never sleep. */
export const fakeNow = { ms: 0 };
const clock = () => fakeNow.ms;

/** Starts every test of the calling file with the fake clock at 0. */
export function useFakeClock(): void {
  beforeEach(() => {
    fakeNow.ms = 0;
  });
}

/** The wall-clock time the fake clock's 0 stands for, so Date and Expires headers can be written. */
export const EPOCH = Date.parse('2026-01-05T10:00:00.000Z');

export function httpDate(atMs: number): string {
  return new Date(EPOCH + atMs).toUTCString();
}

export function newCache(opts: Partial<StaleCacheOptions> = {}): StaleCache {
  return new StaleCache({ maxBytes: 1 << 20, maxEntryBytes: 64 << 10, epochAtZeroMs: EPOCH, ...opts }, clock);
}

/**
 * A GET for `http://api.example/api/likes/1` made for us-east, with `headers` added, each sent on
 * one line unless `overrides.rawHeaders` says how they were sent.
 */
export function request(
  headers: IncomingHttpHeaders = {},
  overrides: Partial<Omit<CacheRequest, 'headers'>> = {},
): CacheRequest {
  const all = { host: 'api.example', ...headers };
  const rawHeaders = Object.entries(all).flatMap(([name, value]) => [name, String(value)]);
  return {
    method: 'GET',
    url: '/api/likes/1',
    scheme: 'http',
    region: 'us-east',
    rawHeaders,
    ...overrides,
    headers: all,
  };
}

export interface Response {
  status?: number;
  /** As undici gives them: a repeated field is an array, whatever its name. */
  headers?: Record<string, string | string[]>;
  body?: string;
  ttlMs?: number;
}

/** Offers a whole response to the cache as the request path would; true when it was kept. */
export function offer(cache: StaleCache, req: CacheRequest, response: Response = {}): boolean {
  const { status = 200, headers = {}, body = 'kept', ttlMs = 60_000 } = response;
  const all: IncomingHttpHeaders = { 'content-type': 'text/plain', ...headers };
  const capture = cache.captureFor(req, status, all, ttlMs);
  if (capture === undefined) return false;
  capture.push(Buffer.from(body));
  return capture.finish();
}

/** The body the cache would serve to `req` now, or undefined. */
export function servedBody(cache: StaleCache, req: CacheRequest): string | undefined {
  return cache.lookup(req)?.body.toString();
}

/** One header of a flat `[name, value, ...]` list. */
export function headerOf(list: string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
  return undefined;
}
