/**
 * One test per RFC 9111 rule the stale cache applies, named after the rule and its section.
 * "Served" means: answered by `lookup`, which the request path calls only when the region sheds or
 * fails (a disconnected cache, in §4.2.4's terms). Every test that refuses also shows the copy
 * being served where the rule allows it, so a cache that never answered could not pass.
 */
import { describe, expect, it } from 'vitest';
import { MAX_VARIANTS } from '../../src/cache/stale-cache.js';
import {
  fakeNow,
  newCache,
  offer,
  request,
  servedBody,
  useFakeClock,
} from '../support/stale-cache-fixtures.js';

useFakeClock();

describe('storing (RFC 9111 §3)', () => {
  it('§3: only GET answers are kept (the contract narrows the cacheable methods to GET)', () => {
    const cache = newCache();
    expect(offer(cache, request({}, { method: 'POST' }))).toBe(false);
    expect(offer(cache, request({}, { method: 'HEAD' }))).toBe(false);
    expect(offer(cache, request())).toBe(true);
  });

  it.each([201, 203, 204, 301, 404, 500])(
    '§3: a status other than 200 (%i) is not kept (the contract)',
    (status) => {
      expect(
        offer(newCache(), request(), { status, headers: { 'cache-control': 'public, max-age=60' } }),
      ).toBe(false);
    },
  );

  // An empty argument leaves the directive in force (§5.2: directives are known by name).
  it.each([
    'no-store',
    'max-age=60, no-store',
    'max-age=0, No-Store',
    'no-store=""',
    'max-age=60, no-store=',
    'no-store="',
  ])('§5.2.2.5: a response marked no-store is not kept (%s)', (cacheControl) => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'cache-control': cacheControl } })).toBe(false);
    expect(cache.size).toBe(0);
  });

  it.each([
    'private',
    'private="set-cookie", max-age=5',
    'PRIVATE',
    'private=""',
    'max-age=5, private= , public',
    'private="',
    'max-age=60, private="',
    'private="""',
  ])('§5.2.2.7: a response marked private is not kept by a shared cache (%s)', (cacheControl) => {
    expect(offer(newCache(), request(), { headers: { 'cache-control': cacheControl } })).toBe(false);
  });

  it('§5.2.1.5: the response to a request that said no-store is not kept', () => {
    const cache = newCache();
    expect(offer(cache, request({ 'cache-control': 'no-store' }))).toBe(false);
    expect(servedBody(cache, request())).toBeUndefined();
  });

  it('§5.2.1.5: a request no-store with an empty argument is no-store all the same', () => {
    const cache = newCache();
    expect(offer(cache, request({ 'cache-control': 'no-store=""' }))).toBe(false);
    expect(offer(cache, request({ 'cache-control': 'max-age=5, no-store=' }))).toBe(false);
    expect(offer(cache, request({ 'cache-control': 'max-age=5' }))).toBe(true);
  });

  it('§5.2.1.5: a request that says no-store may still be answered from a copy kept before', () => {
    const cache = newCache();
    offer(cache, request());
    expect(servedBody(cache, request({ 'cache-control': 'no-store' }))).toBe('kept');
  });

  it('§3.5: an answer to a request with authorization is not kept, so never reaches another client', () => {
    const cache = newCache();
    expect(offer(cache, request({ authorization: 'Bearer alice' }), { body: 'alice only' })).toBe(false);
    expect(servedBody(cache, request())).toBeUndefined();
    expect(servedBody(cache, request({ authorization: 'Bearer alice' }))).toBeUndefined();
  });

  it('§3.5: an empty authorization header still counts as one', () => {
    expect(offer(newCache(), request({ authorization: '' }))).toBe(false);
  });

  it('§3.5: public lets a shared cache keep and reuse an answer to an authorized request', () => {
    const cache = newCache();
    expect(
      offer(cache, request({ authorization: 'Bearer alice' }), { headers: { 'cache-control': 'public' } }),
    ).toBe(true);
    expect(servedBody(cache, request())).toBe('kept');
  });

  it('§3.5: s-maxage lets a shared cache keep an authorized answer, served only while fresh (§5.2.2.10)', () => {
    const cache = newCache();
    const alice = request({ authorization: 'Bearer alice' });
    expect(offer(cache, alice, { headers: { 'cache-control': 's-maxage=60' } })).toBe(true);
    fakeNow.ms = 59_000;
    expect(servedBody(cache, request())).toBe('kept');
    fakeNow.ms = 61_000;
    expect(servedBody(cache, request())).toBeUndefined();
  });

  it('set-cookie: a response that sets a cookie is never kept (the contract)', () => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'set-cookie': ['session=abc'] } })).toBe(false);
    expect(offer(cache, request(), { headers: { 'set-cookie': ['a=1'], 'cache-control': 'public' } })).toBe(
      false,
    );
  });

  it.each(['*', 'accept-encoding, *'])(
    '§4.1: a response with vary: %s is not kept (no request matches it)',
    (vary) => {
      expect(offer(newCache(), request(), { headers: { vary } })).toBe(false);
    },
  );

  it('§5.3 of RFC 9110: repeated cache-control lines are read as one list', () => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { 'cache-control': ['max-age=60', 'no-store'] } })).toBe(false);
    expect(offer(cache, request(), { headers: { 'cache-control': ['public', 'max-age=60'] } })).toBe(true);
  });
});

describe('the key (RFC 9111 §2, §4: method and target URI)', () => {
  it('§4: a copy made for one Host is not served for another', () => {
    const cache = newCache();
    offer(cache, request({ host: 'a.example' }), { body: 'site a' });
    expect(servedBody(cache, request({ host: 'b.example' }))).toBeUndefined();
    expect(servedBody(cache, request({ host: 'a.example' }))).toBe('site a');
  });

  it('§4: copies of one path for two Hosts are kept side by side', () => {
    const cache = newCache();
    offer(cache, request({ host: 'a.example' }), { body: 'site a' });
    offer(cache, request({ host: 'b.example' }), { body: 'site b' });
    expect(servedBody(cache, request({ host: 'a.example' }))).toBe('site a');
    expect(servedBody(cache, request({ host: 'b.example' }))).toBe('site b');
  });

  it("§4: HTTP/2's :authority stands for Host, and names the target even beside a Host header", () => {
    const cache = newCache();
    const h2 = (authority: string, host?: string) => ({
      ...request(),
      headers: host === undefined ? { ':authority': authority } : { ':authority': authority, host },
    });
    offer(cache, h2('a.example'), { body: 'site a' });
    expect(servedBody(cache, h2('b.example'))).toBeUndefined();
    expect(servedBody(cache, h2('a.example'))).toBe('site a');
    // RFC 9113 §8.3.1: the target is :authority's; the upstream was sent it as Host.
    expect(servedBody(cache, h2('b.example', 'a.example'))).toBeUndefined();
    expect(servedBody(cache, h2('a.example', 'A.example'))).toBe('site a');
  });

  it('§4: a copy made over http is not served over https', () => {
    const cache = newCache();
    offer(cache, request({}, { scheme: 'http' }));
    expect(servedBody(cache, request({}, { scheme: 'https' }))).toBeUndefined();
    expect(servedBody(cache, request({}, { scheme: 'http' }))).toBe('kept');
  });

  it('§4: path and query are part of the key', () => {
    const cache = newCache();
    offer(cache, request({}, { url: '/a?x=1' }), { body: 'x=1' });
    expect(servedBody(cache, request({}, { url: '/a?x=2' }))).toBeUndefined();
    expect(servedBody(cache, request({}, { url: '/a' }))).toBeUndefined();
    expect(servedBody(cache, request({}, { url: '/a?x=1' }))).toBe('x=1');
  });

  it('§4: a GET copy answers only a GET (not a HEAD)', () => {
    const cache = newCache();
    offer(cache, request());
    expect(servedBody(cache, request({}, { method: 'HEAD' }))).toBeUndefined();
  });

  it('§4.4: invalidating a target forgets its copies in every region named, every variant, and nothing else', () => {
    const cache = newCache();
    const varied = { headers: { vary: 'accept' } };
    offer(cache, request({ accept: 'a' }, { region: 'us-east' }), varied);
    offer(cache, request({ accept: 'b' }, { region: 'us-east' }), varied);
    offer(cache, request({}, { region: 'eu-west' }));
    offer(cache, request({}, { region: 'eu-west', url: '/other' }), { body: 'other' });
    cache.invalidate(request({}, { method: 'DELETE' }), ['us-east', 'eu-west']);
    expect(servedBody(cache, request({ accept: 'a' }, { region: 'us-east' }))).toBeUndefined();
    expect(servedBody(cache, request({ accept: 'b' }, { region: 'us-east' }))).toBeUndefined();
    expect(servedBody(cache, request({}, { region: 'eu-west' }))).toBeUndefined();
    expect(servedBody(cache, request({}, { region: 'eu-west', url: '/other' }))).toBe('other');
  });

  // RFC 9110 §4.2.3: these name the same URI as `api.example` over http.
  it.each(['API.Example', 'api.example:80', 'api.example:', 'Api.EXAMPLE:80'])(
    '§4.4: invalidating through an equivalent authority (%s) forgets the copy',
    (host) => {
      const cache = newCache();
      offer(cache, request());
      offer(cache, request({}, { url: '/other' }), { body: 'other' });
      cache.invalidate(request({ host }, { method: 'DELETE' }), ['us-east']);
      expect(servedBody(cache, request())).toBeUndefined();
      expect(servedBody(cache, request({}, { url: '/other' }))).toBe('other');
    },
  );

  it('§4.1: Vary: Host is matched on the host as it is compared (RFC 9110 §4.2.3)', () => {
    const cache = newCache();
    offer(cache, request(), { headers: { vary: 'host' } });
    expect(servedBody(cache, request({ host: 'API.example:80' }))).toBe('kept');
  });

  it('§4.2.3 of RFC 9110: a port other than the default, or the other scheme, is another URI', () => {
    const cache = newCache();
    offer(cache, request());
    cache.invalidate(request({ host: 'api.example:8080' }, { method: 'DELETE' }), ['us-east']);
    cache.invalidate(request({}, { method: 'DELETE', scheme: 'https' }), ['us-east']);
    expect(servedBody(cache, request())).toBe('kept');
    expect(servedBody(cache, request({ host: 'API.example:80' }))).toBe('kept');
  });

  // A GET whose answer was still streaming when a DELETE of its target succeeded may carry what the
  // DELETE removed: it is not kept. One whose answer began after it is.
  it('§4.4: a copy whose capture began before the target was invalidated is not kept', () => {
    const cache = newCache();
    const during = cache.captureFor(request(), 200, { 'content-type': 'text/plain' }, 60_000)!;
    during.push(Buffer.from('before the delete'));
    fakeNow.ms = 10;
    cache.invalidate(request({}, { method: 'DELETE' }), ['us-east']);
    fakeNow.ms = 20;
    expect(during.finish()).toBe(false);
    expect(servedBody(cache, request())).toBeUndefined();
    expect(offer(cache, request(), { body: 'after the delete' })).toBe(true);
    expect(servedBody(cache, request())).toBe('after the delete');
  });

  it('home region: a copy made for one region is not served for another', () => {
    const cache = newCache();
    offer(cache, request({}, { region: 'us-east' }));
    expect(servedBody(cache, request({}, { region: 'eu-west' }))).toBeUndefined();
    expect(servedBody(cache, request({}, { region: 'us-east' }))).toBe('kept');
  });
});

describe('Vary (RFC 9111 §4.1)', () => {
  const varied = (encoding: string) => ({ headers: { vary: 'Accept-Encoding' }, body: `in ${encoding}` });

  it('§4.1: a copy is served only to a request whose varied headers match the stored request', () => {
    const cache = newCache();
    offer(cache, request({ 'accept-encoding': 'gzip' }), varied('gzip'));
    expect(servedBody(cache, request({ 'accept-encoding': 'identity' }))).toBeUndefined();
    expect(servedBody(cache, request())).toBeUndefined();
    expect(servedBody(cache, request({ 'accept-encoding': 'gzip' }))).toBe('in gzip');
  });

  it('§4.1: a header absent from the stored request must be absent from the new one', () => {
    const cache = newCache();
    offer(cache, request(), varied('nothing'));
    expect(servedBody(cache, request({ 'accept-encoding': 'gzip' }))).toBeUndefined();
    expect(servedBody(cache, request())).toBe('in nothing');
  });

  it('§4.1: several variants of one target are kept side by side, each served to its own match', () => {
    const cache = newCache();
    for (const encoding of ['gzip', 'br', 'identity'])
      offer(cache, request({ 'accept-encoding': encoding }), varied(encoding));
    expect(cache.size).toBe(1);
    for (const encoding of ['identity', 'gzip', 'br'])
      expect(servedBody(cache, request({ 'accept-encoding': encoding }))).toBe(`in ${encoding}`);
  });

  it('§4: of matching copies the most recent is used (a newer copy of a variant replaces it); at most MAX_VARIANTS kept', () => {
    const cache = newCache();
    offer(cache, request({ 'accept-encoding': 'gzip' }), { ...varied('gzip'), body: 'old' });
    offer(cache, request({ 'accept-encoding': 'gzip' }), { ...varied('gzip'), body: 'new' });
    expect(servedBody(cache, request({ 'accept-encoding': 'gzip' }))).toBe('new');
    for (let i = 0; i < MAX_VARIANTS; i++)
      offer(cache, request({ 'accept-encoding': `e${i}` }), varied(`e${i}`));
    expect(servedBody(cache, request({ 'accept-encoding': 'gzip' }))).toBeUndefined();
    expect(servedBody(cache, request({ 'accept-encoding': 'e0' }))).toBe('in e0');
  });

  // Vary names request headers that shaped the answer; for these the upstream got the gateway's
  // value (or none), never the client's, so the stored request cannot tell one client from another.
  it.each([
    'X-Forwarded-For',
    'accept, forwarded',
    'x-request-id',
    'via',
    'te',
    'x_user',
    'x-floodgate-shed',
  ])('§4.1: a response that varies on a header the gateway rewrites (%s) is not kept', (vary) => {
    const cache = newCache();
    expect(offer(cache, request(), { headers: { vary } })).toBe(false);
    expect(offer(cache, request(), { headers: { vary: 'accept' } })).toBe(true);
  });

  it('§4.1: nor one that varies on a header the request named in connection (dropped on the way up)', () => {
    const cache = newCache();
    const named = request({ connection: 'keep-alive, x-tenant', 'x-tenant': 'a' });
    expect(offer(cache, named, { headers: { vary: 'x-tenant' } })).toBe(false);
    expect(offer(cache, request({ 'x-tenant': 'a' }), { headers: { vary: 'x-tenant' } })).toBe(true);
  });

  // Node keeps the first user-agent line of a request, the upstream gets both and may answer the
  // last: a copy kept under the first would reach every client sending only that one.
  it('§4.1: nor one that varies on a header the request sent on more than one line', () => {
    const cache = newCache();
    const twice = request(
      { 'user-agent': 'Safari' },
      { rawHeaders: ['host', 'api.example', 'User-Agent', 'Safari', 'user-agent', '<script>'] },
    );
    expect(offer(cache, twice, { headers: { vary: 'accept, user-agent' } })).toBe(false);
    expect(servedBody(cache, request({ 'user-agent': 'Safari' }))).toBeUndefined();
    // Repeated lines of a header the answer does not vary on do not matter, nor those of one Node
    // joins as the upstream reads them (cookies sent one a field over HTTP/2, say).
    expect(offer(cache, twice, { headers: { vary: 'accept' } })).toBe(true);
    const joined = request(
      { cookie: 'a=1; b=2', 'accept-language': 'en, fr' },
      {
        rawHeaders: [
          'host',
          'api.example',
          'cookie',
          'a=1',
          'cookie',
          'b=2',
          'accept-language',
          'en',
          'accept-language',
          'fr',
        ],
      },
    );
    expect(offer(cache, joined, { headers: { vary: 'cookie, accept-language' } })).toBe(true);
    expect(offer(cache, request({ 'user-agent': 'Safari' }), { headers: { vary: 'user-agent' } })).toBe(true);
  });
});
