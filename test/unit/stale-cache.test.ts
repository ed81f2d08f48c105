/**
 * The stale cache as a store: its byte bounds, per-route ttl, what a served copy carries, the
 * capture of a streaming body, and that responses which can never be kept cost no header work.
 * The RFC 9111 rules are in stale-cache-rules.test.ts and stale-cache-serving.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { REFRESH_AFTER_MS } from '../../src/cache/stale-cache.js';
import {
  fakeNow,
  headerOf,
  newCache,
  offer,
  request,
  servedBody,
  useFakeClock,
} from '../support/stale-cache-fixtures.js';

useFakeClock();

const target = (i: number) => request({}, { url: `/item/${i}` });

describe('StaleCache', () => {
  it('stays within maxBytes however many copies are offered', () => {
    // Verifies: the byte bound holds and the least recently used targets are the ones evicted.
    const cache = newCache({ maxBytes: 100_000, maxEntryBytes: 10_000 });
    for (let i = 0; i < 1_000; i++) {
      offer(cache, target(i), { body: 'x'.repeat(900) });
      expect(cache.bytesHeld).toBeLessThanOrEqual(100_000);
    }
    expect(cache.size).toBeGreaterThan(30);
    expect(cache.size).toBeLessThan(1_000);
    expect(servedBody(cache, target(999))?.length).toBe(900);
    expect(servedBody(cache, target(0))).toBeUndefined();
  });

  it('keeps recently served copies over untouched ones', () => {
    // Verifies: serving a copy refreshes its recency, so a popular copy survives a flood of new ones.
    const cache = newCache({ maxBytes: 10_000, maxEntryBytes: 5_000 });
    offer(cache, target(-1), { body: 'popular' });
    for (let i = 0; i < 100; i++) {
      offer(cache, target(i), { body: 'x'.repeat(500) });
      expect(servedBody(cache, target(-1))).toBe('popular');
    }
  });

  it("expires copies after their route's ttl on the injected clock", () => {
    // Verifies: a copy is served until ttlMs has passed and not after; each copy has its own ttl.
    const cache = newCache();
    offer(cache, target(1), { ttlMs: 1_000 });
    offer(cache, target(2), { ttlMs: 60_000 });
    fakeNow.ms = 999;
    expect(servedBody(cache, target(1))).toBe('kept');
    fakeNow.ms = 1_000;
    expect(servedBody(cache, target(1))).toBeUndefined();
    expect(servedBody(cache, target(2))).toBe('kept');
    fakeNow.ms = 60_000;
    expect(servedBody(cache, target(2))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('refuses a copy larger than maxEntryBytes and keeps the earlier one', () => {
    // Verifies: an oversized copy is refused without evicting what was there.
    const cache = newCache({ maxBytes: 100_000, maxEntryBytes: 2_000 });
    expect(offer(cache, target(1), { body: 'small' })).toBe(true);
    expect(offer(cache, target(1), { body: 'x'.repeat(5_000) })).toBe(false);
    expect(servedBody(cache, target(1))).toBe('small');
    // Headers count too: a body just under the bound with a large header is still too large.
    expect(offer(cache, target(2), { body: 'x'.repeat(1_500), headers: { etag: 'e'.repeat(600) } })).toBe(
      false,
    );
    expect(cache.size).toBe(1);
  });

  it('serves the original status, headers and body, with content-length, age and x-floodgate-cache', () => {
    // Verifies: the answer is ready for writeHead, without hop-by-hop, x-floodgate-*, the upstream's request id, length and age.
    const cache = newCache();
    const headers = {
      'content-type': 'application/json',
      'content-length': '11',
      etag: '"v1"',
      date: 'Mon, 05 Jan 2026 09:59:59 GMT',
      connection: 'keep-alive, x-hop',
      'x-hop': 'hop',
      'keep-alive': 'timeout=5',
      'x-floodgate-cache': 'forged',
      'x-request-id': 'made-up-upstream',
      age: '4',
    };
    offer(cache, request(), { body: '{"likes":1}', headers });
    fakeNow.ms = 1_000;
    const answer = cache.lookup(request())!;
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('{"likes":1}');
    expect(answer.headers).toEqual([
      'content-type',
      'application/json',
      'etag',
      '"v1"',
      'date',
      'Mon, 05 Jan 2026 09:59:59 GMT',
      'content-length',
      '11',
      'age',
      '5',
      'x-floodgate-cache',
      'stale',
    ]);
    // A fresh list each time: the caller appends x-floodgate-region to it.
    answer.headers.push('x-floodgate-region', 'us-east');
    expect(headerOf(cache.lookup(request())!.headers, 'x-floodgate-region')).toBeUndefined();
  });

  it('counts copies served and bytes held', () => {
    // Verifies: servedTotal counts only answers given; bytesHeld follows what is kept.
    const cache = newCache();
    expect(cache.bytesHeld).toBe(0);
    offer(cache, request(), { body: 'x'.repeat(1_000) });
    expect(cache.bytesHeld).toBeGreaterThan(1_000);
    cache.lookup(request({}, { url: '/missing' }));
    cache.lookup(request());
    cache.lookup(request());
    expect(cache.servedTotal).toBe(2);
    // has() answers the same question without serving.
    expect(cache.has(request())).toBe(true);
    expect(cache.has(request({ 'cache-control': 'no-cache' }))).toBe(false);
    expect(cache.servedTotal).toBe(2);
    cache.clear();
    expect(cache.bytesHeld).toBe(0);
  });

  it("does not hold a client's other request headers (cookies) with a copy", () => {
    // Verifies: only what the rules read is kept of the request, so a large cookie costs no bytes.
    const plain = newCache();
    const withCookie = newCache();
    offer(plain, request());
    offer(withCookie, request({ cookie: `session=${'c'.repeat(4_000)}` }));
    expect(withCookie.bytesHeld).toBe(plain.bytesHeld);
  });

  it.each([
    ['POST', 200, 60_000],
    ['GET', 500, 60_000],
    ['GET', 304, 60_000],
    ['GET', 200, undefined],
  ] as const)(
    'never reads the headers of a response that cannot be kept (%s %i, ttl %s)',
    (method, status, ttlMs) => {
      // Verifies: the cheap check on method, status and route comes before any header (or CachePolicy) work.
      const untouchable = new Proxy(
        {},
        {
          get() {
            throw new Error('headers read');
          },
          ownKeys() {
            throw new Error('headers read');
          },
        },
      );
      expect(newCache().captureFor(request({}, { method }), status, untouchable, ttlMs)).toBeUndefined();
    },
  );

  it('keeps nothing for a capture that was never finished, or a body shorter than declared', () => {
    // Verifies: a cut-off answer never becomes a copy, even if the caller calls finish().
    const cache = newCache();
    const abandoned = cache.captureFor(request(), 200, { 'content-length': '10' }, 60_000)!;
    abandoned.push(Buffer.from('12345'));
    expect(servedBody(cache, request())).toBeUndefined();
    expect(abandoned.finish()).toBe(false);
    expect(servedBody(cache, request())).toBeUndefined();
    const whole = cache.captureFor(request(), 200, { 'content-length': '10' }, 60_000)!;
    whole.push(Buffer.from('12345'));
    whole.push(Buffer.from('67890'));
    expect(whole.finish()).toBe(true);
    expect(servedBody(cache, request())).toBe('1234567890');
  });

  it('drops a capture that goes over maxEntryBytes', () => {
    // Verifies: push() turns false past the bound and finish() keeps nothing.
    const cache = newCache({ maxEntryBytes: 2_000 });
    const capture = cache.captureFor(request(), 200, {}, 60_000)!;
    expect(capture.push(Buffer.alloc(1_500))).toBe(true);
    expect(capture.push(Buffer.alloc(1_000))).toBe(false);
    expect(capture.finish()).toBe(false);
    expect(cache.size).toBe(0);
  });
});

describe('StaleCache under new bounds', () => {
  it('takes the live copies of the store it replaces, the most recently served first', () => {
    // Verifies: a reload's new store keeps what fits its bounds, lets the least recently used go,
    // leaves out expired and oversized copies, and only reads the store it replaces.
    const old = newCache({ maxBytes: 1_000_000, maxEntryBytes: 10_000 });
    for (let i = 0; i < 40; i++) offer(old, target(i), { body: 'x'.repeat(900) });
    offer(old, target(100), { body: 'y'.repeat(5_000) });
    offer(old, target(101), { body: 'brief', ttlMs: 1_000 });
    expect(servedBody(old, target(0))?.length).toBe(900);
    fakeNow.ms = 1_000;
    const oldSize = old.size;

    const next = newCache({ maxBytes: 20_000, maxEntryBytes: 3_000 });
    next.takeCopiesOf(old);
    expect(next.bytesHeld).toBeLessThanOrEqual(20_000);
    expect(next.size).toBeGreaterThan(3);
    expect(servedBody(next, target(0))?.length).toBe(900);
    expect(servedBody(next, target(39))?.length).toBe(900);
    expect(servedBody(next, target(1))).toBeUndefined();
    expect(servedBody(next, target(100))).toBeUndefined();
    expect(servedBody(next, target(101))).toBeUndefined();
    expect(old.size).toBe(oldSize);
    expect(servedBody(old, target(1))?.length).toBe(900);
  });
});

describe('StaleCache captures under way', () => {
  it('holds no more than maxBytes in all the captures under way together', () => {
    // Verifies: each capture is within maxEntryBytes, yet many at once would hold that much each;
    // past the shared bound the capture that would cross it lets go, and the others carry on.
    const cache = newCache({ maxBytes: 6_000, maxEntryBytes: 5_000 });
    const captures = [0, 1, 2].map((i) => cache.captureFor(target(i), 200, {}, 60_000)!);
    expect(captures[0]!.push(Buffer.alloc(2_500))).toBe(true);
    expect(captures[1]!.push(Buffer.alloc(2_500))).toBe(true);
    expect(cache.bytesCapturing).toBe(5_000);
    expect(captures[2]!.push(Buffer.alloc(2_500))).toBe(false);
    expect(cache.bytesCapturing).toBe(5_000);
    expect(captures[2]!.finish()).toBe(false);
    expect(captures[0]!.finish()).toBe(true);
    expect(cache.bytesCapturing).toBe(2_500);
    expect(servedBody(cache, target(0))?.length).toBe(2_500);
  });

  it('gives back what an abandoned capture held, once', () => {
    // Verifies: a capture whose exchange failed frees its share (a no-op after finish or a second
    // abandon), so failed answers cannot use up the bound for good.
    const cache = newCache({ maxBytes: 10_000, maxEntryBytes: 8_000 });
    for (let i = 0; i < 10; i++) {
      const cut = cache.captureFor(target(i), 200, {}, 60_000)!;
      expect(cut.push(Buffer.alloc(6_000))).toBe(true);
      cut.abandon();
      cut.abandon();
      expect(cut.finish()).toBe(false);
      expect(cache.bytesCapturing).toBe(0);
    }
    const whole = cache.captureFor(target(99), 200, {}, 60_000)!;
    expect(whole.push(Buffer.alloc(6_000))).toBe(true);
    expect(whole.finish()).toBe(true);
    whole.abandon();
    expect(cache.bytesCapturing).toBe(0);
    // Over maxEntryBytes: let go of at once.
    const over = cache.captureFor(target(100), 200, {}, 60_000)!;
    expect(over.push(Buffer.alloc(6_000))).toBe(true);
    expect(over.push(Buffer.alloc(6_000))).toBe(false);
    expect(cache.bytesCapturing).toBe(0);
  });
});

describe('StaleCache refresh', () => {
  it('copies a busy target again only once its newest copy is REFRESH_AFTER_MS old', () => {
    // Verifies: answers within a second of the last copy are not copied (the hot path skips the
    // caching rules), a later one replaces the copy, and a response with Vary is always considered.
    const cache = newCache();
    expect(offer(cache, target(1), { body: 'first' })).toBe(true);
    fakeNow.ms = REFRESH_AFTER_MS - 1;
    expect(offer(cache, target(1), { body: 'second' })).toBe(false);
    expect(servedBody(cache, target(1))).toBe('first');
    fakeNow.ms = REFRESH_AFTER_MS;
    expect(offer(cache, target(1), { body: 'third' })).toBe(true);
    expect(servedBody(cache, target(1))).toBe('third');
    expect(offer(cache, target(1), { body: 'varied', headers: { vary: 'accept-language' } })).toBe(true);
  });
});
