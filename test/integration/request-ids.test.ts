import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

// Contract §3 (request ids) and §5 (access line fields), through a real gateway and upstream.
describe('request ids and access lines', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFaultUpstream({ kind: 'ok', headers: { 'x-request-id': 'made-up-upstream' } });
    gw = await startTestGateway({
      regions: {
        'us-east': { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 } },
        tiny: { upstreams: [upstream.url], capacity: { rps: 0.001, burst: 1 } },
      },
      routing: { default: 'us-east', header: 'x-region' },
      shedding: { reserve: { high: 0, normal: 0, low: 0 } },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const lineFor = (id: string) => gw.logs.findLast((l) => l.requestId === id);

  it('keeps a valid client id, sends it upstream, returns it and logs it', async () => {
    const res = await fetchText(`${gw.publicUrl}/kept`, { headers: { 'x-request-id': 'abc-123_XYZ' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('abc-123_XYZ');
    expect(upstream.requests.at(-1)!.headers['x-request-id']).toBe('abc-123_XYZ');
    await expect
      .poll(() => lineFor('abc-123_XYZ'))
      .toMatchObject({
        path: '/kept',
        outcome: 'forwarded',
        client: '127.0.0.1',
        upstream: upstream.url,
        status: 200,
      });
    expect(lineFor('abc-123_XYZ')!.bytes).toBeGreaterThan(0);
    expect(String(lineFor('abc-123_XYZ')!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it.each([
    ['with a space', 'has space'],
    ['too long', 'x'.repeat(129)],
    ['empty', ''],
  ])('replaces an id that is %s', async (_what, sent) => {
    const res = await fetchText(`${gw.publicUrl}/replaced`, { headers: { 'x-request-id': sent } });
    const id = res.headers['x-request-id'] as string;
    expect(id).not.toBe(sent);
    expect(id).toMatch(/^[\x21-\x7e]{1,128}$/);
    expect(upstream.requests.at(-1)!.headers['x-request-id']).toBe(id);
  });

  it('makes a unique id when there is none', async () => {
    const a = await fetchText(`${gw.publicUrl}/new`);
    const b = await fetchText(`${gw.publicUrl}/new`);
    expect(a.headers['x-request-id']).toBeTruthy();
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('returns the id on refusals and logs why', async () => {
    await fetchText(`${gw.publicUrl}/first`, { headers: { 'x-region': 'tiny' } });
    const res = await fetchText(`${gw.publicUrl}/shed`, {
      headers: { 'x-region': 'tiny', 'x-request-id': 'shed-me' },
    });
    expect(res.status).toBe(503);
    expect(res.headers['x-request-id']).toBe('shed-me');
    await expect
      .poll(() => lineFor('shed-me'))
      .toMatchObject({ outcome: 'shed', reason: 'rate', status: 503 });
    expect(lineFor('shed-me')!.upstream).toBeUndefined();
    expect(lineFor('shed-me')!.bytes).toBe(Buffer.byteLength(res.body));
  });

  it('logs no body bytes for a refused HEAD', async () => {
    const res = await fetchText(`${gw.publicUrl}/shed`, {
      method: 'HEAD',
      headers: { 'x-region': 'tiny', 'x-request-id': 'shed-head' },
    });
    expect(res.status).toBe(503);
    await expect.poll(() => lineFor('shed-head')).toMatchObject({ outcome: 'shed', bytes: 0 });
  });
});
