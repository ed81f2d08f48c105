import { beforeEach, describe, expect, it } from 'vitest';
import { BodyCapture, StaleCache, type StaleEntry } from '../../src/cache/stale-cache.js';

let now = 0;
const clock = () => now;

beforeEach(() => {
  now = 0;
});

function entry(bodyBytes: number, headers: Record<string, string | string[]> = {}): StaleEntry {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.alloc(bodyBytes, 'x'),
    storedAt: now,
  };
}

describe('StaleCache', () => {
  it('stays within maxBytes however many entries are inserted', () => {
    // Verifies: the byte bound holds and the least recently used entries are the ones evicted.
    const cache = new StaleCache({ maxBytes: 100_000, maxEntryBytes: 10_000 }, clock);
    for (let i = 0; i < 1_000; i++) {
      cache.set(`/item/${i}`, entry(900), 60_000);
      expect(cache.calculatedBytes).toBeLessThanOrEqual(100_000);
    }
    expect(cache.size).toBeGreaterThan(50);
    expect(cache.size).toBeLessThan(1_000);
    expect(cache.get('/item/999')?.body.length).toBe(900);
    expect(cache.get('/item/0')).toBeUndefined();
  });

  it('keeps recently read entries over untouched ones', () => {
    // Verifies: get() refreshes recency, so a popular copy survives a flood of new ones.
    const cache = new StaleCache({ maxBytes: 10_000, maxEntryBytes: 5_000 }, clock);
    cache.set('/popular', entry(500), 60_000);
    for (let i = 0; i < 100; i++) {
      cache.set(`/other/${i}`, entry(500), 60_000);
      expect(cache.get('/popular')).toBeDefined();
    }
  });

  it('expires entries after their ttl on the injected clock', () => {
    // Verifies: an entry is served until ttlMs has passed and not after; each entry has its own ttl.
    now = 0;
    const cache = new StaleCache({ maxBytes: 100_000, maxEntryBytes: 10_000 }, clock);
    cache.set('/short', entry(10), 1_000);
    cache.set('/long', entry(10), 60_000);
    now = 999;
    expect(cache.get('/short')).toBeDefined();
    now = 1_000;
    expect(cache.get('/short')).toBeUndefined();
    expect(cache.get('/long')).toBeDefined();
    now = 60_000;
    expect(cache.get('/long')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('skips entries larger than maxEntryBytes and keeps the earlier copy', () => {
    // Verifies: set() refuses oversized entries without evicting what was there.
    const cache = new StaleCache({ maxBytes: 100_000, maxEntryBytes: 1_000 }, clock);
    expect(cache.set('/a', entry(100), 60_000)).toBe(true);
    expect(cache.set('/a', entry(5_000), 60_000)).toBe(false);
    expect(cache.get('/a')?.body.length).toBe(100);
    expect(cache.set('/b', entry(1_000), 60_000)).toBe(false);
    expect(cache.size).toBe(1);
  });

  it('reports the age of a copy in whole seconds', () => {
    // Verifies: ageSeconds rounds down on the cache's clock.
    now = 5_000;
    const cache = new StaleCache({ maxBytes: 100_000, maxEntryBytes: 10_000 }, clock);
    const kept = entry(10);
    now = 7_999;
    expect(cache.ageSeconds(kept)).toBe(2);
  });

  it.each([
    [200, {}, true],
    [200, { 'cache-control': 'max-age=60, public' }, true],
    [200, { 'cache-control': 'no-cache' }, true],
    [201, {}, false],
    [304, {}, false],
    [500, {}, false],
    [200, { 'cache-control': 'no-store' }, false],
    [200, { 'cache-control': 'max-age=0, No-Store' }, false],
    [200, { 'cache-control': 'private' }, false],
    [200, { 'cache-control': 'private="set-cookie", max-age=5' }, false],
    [200, { 'cache-control': ['public', 'private'] }, false],
    [200, { 'cache-control': 'x-not-private-really' }, true],
    [200, { 'set-cookie': 'session=abc' }, false],
    [200, { 'set-cookie': ['a=1', 'b=2'] }, false],
    [200, { vary: '*' }, false],
    [200, { vary: 'accept-encoding' }, true],
  ] as const)('cacheable(%i, %j) is %s', (status, headers, expected) => {
    // Verifies: only 200s without no-store, private, set-cookie or vary: * may be kept.
    expect(StaleCache.cacheable(status, headers as Record<string, string | string[]>)).toBe(expected);
  });
});

describe('BodyCapture', () => {
  it('joins the chunks of a body within the bound', () => {
    // Verifies: finish() returns the exact bytes pushed, in order.
    const capture = new BodyCapture(10);
    expect(capture.push(Buffer.from('hello '))).toBe(true);
    expect(capture.push(Buffer.from('you!'))).toBe(true);
    expect(capture.finish()?.toString()).toBe('hello you!');
  });

  it('drops everything once the body is over the bound', () => {
    // Verifies: push() turns false at the first byte over and finish() yields nothing.
    const capture = new BodyCapture(10);
    expect(capture.push(Buffer.alloc(6))).toBe(true);
    expect(capture.push(Buffer.alloc(5))).toBe(false);
    expect(capture.push(Buffer.alloc(1))).toBe(false);
    expect(capture.finish()).toBeUndefined();
  });

  it('copies the body out of the buffers it was given', () => {
    // Verifies: the finished body does not share memory with a larger chunk it came from.
    const socketRead = Buffer.from('0123456789');
    const capture = new BodyCapture(100);
    capture.push(socketRead.subarray(2, 5));
    const body = capture.finish()!;
    socketRead.fill('z');
    expect(body.toString()).toBe('234');
    expect(body.buffer.byteLength).toBe(3);
  });

  it('is bounded like the cache when made by it', () => {
    // Verifies: StaleCache.capture() uses maxEntryBytes as the bound.
    const cache = new StaleCache({ maxBytes: 100_000, maxEntryBytes: 50 }, clock);
    const capture = cache.capture();
    expect(capture.push(Buffer.alloc(50))).toBe(true);
    expect(capture.push(Buffer.alloc(1))).toBe(false);
  });
});
