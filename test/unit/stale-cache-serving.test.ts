/**
 * RFC 9111 rules for serving a kept copy that may no longer be fresh (§4.2.4), the request's own
 * directives (§5.2.1, §5.4) and the Age it is served with (§4.2.3, §5.1), one test per rule, on a
 * fake clock. Each refusal is paired with the same copy being served where the rule allows it.
 */
import { describe, expect, it } from 'vitest';
import {
  fakeNow,
  headerOf,
  httpDate,
  newCache,
  offer,
  request,
  servedBody,
  useFakeClock,
} from '../support/stale-cache-fixtures.js';

useFakeClock();

describe('serving a copy that is no longer fresh (RFC 9111 §4.2.4)', () => {
  it('§4.2.4: a copy without directives against it is served stale while the origin cannot answer', () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 'max-age=10' } });
    offer(cache, request({}, { url: '/none' }), { body: 'no freshness information' });
    fakeNow.ms = 30_000;
    expect(servedBody(cache, request())).toBe('kept');
    expect(servedBody(cache, request({}, { url: '/none' }))).toBe('no freshness information');
  });

  it.each([
    'no-cache',
    'no-cache="set-cookie"',
    'max-age=60, no-cache',
    'no-cache=""',
    'max-age=60, no-cache=',
  ])('§5.2.2.4: a copy marked %s is never served without revalidation, so it is not kept', (cacheControl) => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'cache-control': cacheControl } })).toBe(false);
    expect(servedBody(cache, request())).toBeUndefined();
  });

  it('pragma: no-cache on a response without cache-control is taken as no-cache (the library; §5.4 defines it for requests)', () => {
    expect(offer(newCache(), request(), { headers: { pragma: 'no-cache' } })).toBe(false);
  });

  it('§5.2.2.2: a copy marked must-revalidate is never served stale (nor kept: it needs the origin)', () => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'cache-control': 'max-age=60, must-revalidate' } })).toBe(
      false,
    );
    fakeNow.ms = 120_000;
    expect(servedBody(cache, request())).toBeUndefined();
  });

  it('§5.2.2.8: a copy marked proxy-revalidate is never served stale by a shared cache', () => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'cache-control': 'max-age=60, proxy-revalidate' } })).toBe(
      false,
    );
    expect(servedBody(cache, request())).toBeUndefined();
  });

  it('§5.2.2.10: a copy with s-maxage is served while fresh and never once stale', () => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'cache-control': 's-maxage=60, max-age=600' } })).toBe(true);
    fakeNow.ms = 59_000;
    expect(servedBody(cache, request())).toBe('kept');
    fakeNow.ms = 60_500;
    expect(servedBody(cache, request())).toBeUndefined();
    // Forbidden once stale, it is no longer held either.
    expect(cache.size).toBe(0);
  });

  it('§5.2.2.10: s-maxage=0 is never fresh, so such a copy is not kept', () => {
    expect(offer(newCache(), request(), { headers: { 'cache-control': 's-maxage=0' } })).toBe(false);
  });
});

describe("the request's directives (RFC 9111 §5.2.1, §5.4)", () => {
  it('RFC 5861 §4: a copy with stale-if-error=N is served stale for N seconds past fresh, no longer', () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 'max-age=10, stale-if-error=20' } });
    offer(cache, request({}, { url: '/bare' }), { headers: { 'cache-control': 'stale-if-error=5' } });
    // An argument that is not delta-seconds sets no bound: the route's ttl applies.
    offer(cache, request({}, { url: '/odd' }), {
      headers: { 'cache-control': 'max-age=1, stale-if-error=x' },
    });
    fakeNow.ms = 4_500;
    expect(servedBody(cache, request({}, { url: '/bare' }))).toBe('kept');
    fakeNow.ms = 5_500;
    expect(servedBody(cache, request({}, { url: '/bare' }))).toBeUndefined();
    fakeNow.ms = 29_500;
    expect(servedBody(cache, request())).toBe('kept');
    fakeNow.ms = 30_500;
    expect(servedBody(cache, request())).toBeUndefined();
    expect(servedBody(cache, request({}, { url: '/odd' }))).toBe('kept');
  });

  it('§4 and §5.2.1.4: a request with no-cache is not answered from a copy', () => {
    const cache = newCache();
    offer(cache, request());
    expect(servedBody(cache, request({ 'cache-control': 'no-cache' }))).toBeUndefined();
    expect(servedBody(cache, request({ 'cache-control': 'No-Cache' }))).toBeUndefined();
    expect(servedBody(cache, request())).toBe('kept');
  });

  it('§5.4: a request with pragma: no-cache and no cache-control is not answered from a copy', () => {
    const cache = newCache();
    offer(cache, request());
    expect(servedBody(cache, request({ pragma: 'no-cache' }))).toBeUndefined();
  });

  it('§5.2.1.1: a request with max-age=N is not answered by a copy older than N seconds', () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 'max-age=100' } });
    fakeNow.ms = 1_000;
    expect(servedBody(cache, request({ 'cache-control': 'max-age=0' }))).toBeUndefined();
    fakeNow.ms = 30_000;
    expect(servedBody(cache, request({ 'cache-control': 'max-age=20' }))).toBeUndefined();
    expect(servedBody(cache, request({ 'cache-control': 'max-age=60' }))).toBe('kept');
  });

  it('§5.2.1.1: a request with max-age and no max-stale is not answered by a stale copy', () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 'max-age=10' } });
    fakeNow.ms = 20_000;
    expect(servedBody(cache, request({ 'cache-control': 'max-age=60' }))).toBeUndefined();
    expect(servedBody(cache, request({ 'cache-control': 'max-age=60, max-stale' }))).toBe('kept');
    expect(servedBody(cache, request({ 'cache-control': 'Max-Age=60, stale-if-error=30' }))).toBe('kept');
    expect(servedBody(cache, request())).toBe('kept');
  });

  it("RFC 5861 §4: a request's stale-if-error=N allows a copy stale by N seconds, no more", () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 'max-age=10' } });
    fakeNow.ms = 20_000;
    expect(servedBody(cache, request({ 'cache-control': 'stale-if-error=5' }))).toBeUndefined();
    expect(servedBody(cache, request({ 'cache-control': 'stale-if-error=15' }))).toBe('kept');
    // Its own max-stale, sent beside it, is the client's last word.
    expect(servedBody(cache, request({ 'cache-control': 'stale-if-error=15, max-stale=5' }))).toBeUndefined();
  });

  it("§5.2.1.2: a request's max-stale=N bound is kept: no copy stale by more than N seconds", () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 'max-age=10' } });
    fakeNow.ms = 20_000;
    expect(servedBody(cache, request({ 'cache-control': 'max-stale=5' }))).toBeUndefined();
    expect(servedBody(cache, request({ 'cache-control': 'max-stale=30' }))).toBe('kept');
    expect(servedBody(cache, request({ 'cache-control': 'max-stale' }))).toBe('kept');
  });

  it('§5.2.1.3: a request with min-fresh=N is answered only by a copy fresh for N more seconds', () => {
    const cache = newCache();
    // Freshness from Expires against Date (§4.2.1), read on the cache's wall clock.
    const headers = { date: httpDate(0), expires: httpDate(60_000) };
    offer(cache, request(), { headers });
    fakeNow.ms = 10_000;
    expect(servedBody(cache, request({ 'cache-control': 'min-fresh=30' }))).toBe('kept');
    fakeNow.ms = 40_000;
    expect(servedBody(cache, request({ 'cache-control': 'min-fresh=30' }))).toBeUndefined();
    expect(servedBody(cache, request())).toBe('kept');
  });
});

describe('a conditional request answered from a copy (RFC 9111 §4.3.2)', () => {
  const etagged = { etag: 'W/"v1,a"', 'last-modified': httpDate(-60_000), 'cache-control': 'max-age=5' };
  const answerTo = (headers: Record<string, string>) => newCacheWith(etagged).lookup(request(headers));
  function newCacheWith(headers: Record<string, string>) {
    const cache = newCache();
    offer(cache, request(), { headers: { ...headers, 'x-other': 'kept' }, body: 'the body' });
    fakeNow.ms = 10_000;
    return cache;
  }

  it.each([
    ['if-none-match', '"v1,a"'],
    ['if-none-match', '"v0", W/"v1,a"'],
    ['if-none-match', '*'],
    ['if-modified-since', httpDate(-60_000)],
    ['if-modified-since', httpDate(0)],
    ['if-modified-since', 'Monday, 05-Jan-26 10:00:00 GMT'],
    ['if-modified-since', 'Mon Jan  5 10:00:00 2026'],
  ])('%s: %s is answered 304, with only the fields a 304 carries', (name, value) => {
    const answer = answerTo({ [name]: value })!;
    expect(answer.status).toBe(304);
    expect(answer.body.length).toBe(0);
    expect(headerOf(answer.headers, 'etag')).toBe('W/"v1,a"');
    expect(headerOf(answer.headers, 'cache-control')).toBe('max-age=5');
    expect(headerOf(answer.headers, 'age')).toBe('10');
    expect(headerOf(answer.headers, 'x-floodgate-cache')).toBe('stale');
    expect(headerOf(answer.headers, 'x-other')).toBeUndefined();
    expect(headerOf(answer.headers, 'last-modified')).toBeUndefined();
    expect(headerOf(answer.headers, 'content-length')).toBeUndefined();
  });

  it.each([
    ['if-none-match', '"v2"'],
    ['if-none-match', '"v1"'],
    ['if-modified-since', httpDate(-61_000)],
    ['if-modified-since', 'yesterday-ish'],
    // Not an HTTP-date, though Date.parse would read a time from it (RFC 9110 §13.1.3: ignored).
    ['if-modified-since', '2030'],
    // If-None-Match wins: If-Modified-Since is not read beside it (RFC 9110 §13.1.3).
    ['if-none-match', '"v2"', 'if-modified-since', httpDate(0)],
    // The origin's to judge: the copy is served whole.
    ['if-match', '"v2"'],
    ['if-unmodified-since', httpDate(-120_000)],
  ])('%s: %s (and %s %s) gets the whole copy', (...fields) => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) headers[fields[i]!] = fields[i + 1]!;
    const answer = answerTo(headers)!;
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('the body');
  });

  it('a copy without Last-Modified is judged by its Date; one without an ETag never matches If-None-Match', () => {
    const cache = newCacheWith({ date: httpDate(-30_000) });
    expect(cache.lookup(request({ 'if-modified-since': httpDate(-30_000) }))!.status).toBe(304);
    expect(cache.lookup(request({ 'if-modified-since': httpDate(-31_000) }))!.status).toBe(200);
    expect(cache.lookup(request({ 'if-none-match': '"v1,a"' }))!.status).toBe(200);
  });
});

describe('Date (RFC 9110 §6.6.1)', () => {
  // A recipient that caches an answer without Date must give it the time it was received, or the
  // copy is served dated as new.
  it('gives a copy of an answer without Date the time it was received, and keeps one it had', () => {
    const cache = newCache();
    fakeNow.ms = 5_000;
    offer(cache, request());
    offer(cache, request({}, { url: '/dated' }), { headers: { date: httpDate(1_000) } });
    fakeNow.ms = 30_000;
    expect(headerOf(cache.lookup(request())!.headers, 'date')).toBe(httpDate(5_000));
    expect(headerOf(cache.lookup(request({}, { url: '/dated' }))!.headers, 'date')).toBe(httpDate(1_000));
  });
});

describe('Age (RFC 9111 §4.2.3, §5.1)', () => {
  const ageServed = (cache: ReturnType<typeof newCache>) => headerOf(cache.lookup(request())!.headers, 'age');

  it("§4.2.3: age is the upstream's Age plus the time kept, in whole seconds", () => {
    const cache = newCache();
    offer(cache, request(), { headers: { age: '100' } });
    fakeNow.ms = 2_900;
    expect(ageServed(cache)).toBe('102');
  });

  // The corrected initial age is at least the apparent age: an answer whose Date is an hour old was
  // generated an hour ago, Age or not (an older cache on the way that sent no Age).
  it('§4.2.3: age is at least the time since the Date of an answer, which counts against freshness', () => {
    const cache = newCache();
    fakeNow.ms = 3_600_000;
    offer(cache, request(), { headers: { date: httpDate(0) } });
    offer(cache, request({}, { url: '/both' }), { headers: { date: httpDate(3_500_000), age: '300' } });
    // A Date ahead of the gateway's clock makes no age of its own.
    offer(cache, request({}, { url: '/ahead' }), { headers: { date: httpDate(3_700_000) } });
    expect(
      offer(cache, request({}, { url: '/shared' }), {
        headers: { date: httpDate(0), 'cache-control': 's-maxage=60' },
      }),
    ).toBe(false);
    expect(
      offer(cache, request({}, { url: '/fresh' }), {
        headers: { date: httpDate(3_590_000), 'cache-control': 's-maxage=60' },
      }),
    ).toBe(true);
    fakeNow.ms = 3_602_000;
    expect(ageServed(cache)).toBe('3602');
    expect(headerOf(cache.lookup(request({}, { url: '/both' }))!.headers, 'age')).toBe('302');
    expect(headerOf(cache.lookup(request({}, { url: '/ahead' }))!.headers, 'age')).toBe('2');
    expect(headerOf(cache.lookup(request({}, { url: '/fresh' }))!.headers, 'age')).toBe('12');
  });

  it("§4.2.3: the upstream's Age counts against freshness", () => {
    const cache = newCache();
    offer(cache, request(), { headers: { 'cache-control': 's-maxage=60', age: '50' } });
    fakeNow.ms = 9_000;
    expect(servedBody(cache, request())).toBe('kept');
    fakeNow.ms = 11_000;
    expect(servedBody(cache, request())).toBeUndefined();
  });

  it.each([
    ['abc', '3'],
    ['-5', '3'],
    ['7, 9', '10'],
    [['8', '9'], '11'],
  ])(
    '§5.1: Age %j is read as its first member, and ignored unless a non-negative integer (age %s)',
    (age, expected) => {
      const cache = newCache();
      offer(cache, request(), { headers: { age: age as string } });
      fakeNow.ms = 3_000;
      expect(ageServed(cache)).toBe(expected);
    },
  );

  it('§1.2.2: an Age too large to hold is sent as 2147483648, never in exponent form', () => {
    const cache = newCache();
    offer(cache, request(), { headers: { age: '99999999999999999999999' } });
    expect(ageServed(cache)).toBe('2147483648');
  });
});
