import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultMode, type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

// What is still in flight when shutdownGraceMs runs out is cut by the gateway, and its access line
// says so (outcome error, reason shutdown), not that its client left (client-closed).

const GRACE_MS = 1000;

interface Sent {
  /** Resolves with the response once its headers have arrived. */
  headers: Promise<IncomingMessage>;
  /** Resolves once the exchange is over, however it ended. */
  done: Promise<void>;
}

function send(base: string, path: string, id: string): Sent {
  let ended: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const headers = new Promise<IncomingMessage>((resolve) => {
    const req = httpRequest(`${base}${path}`, { headers: { 'x-request-id': id } }, (res) => {
      resolve(res);
      res.on('data', () => {});
      res.on('end', ended);
      res.on('error', ended);
      res.on('close', ended);
    });
    req.on('error', ended);
    req.end();
  });
  return { headers, done };
}

describe('requests cut at the end of the shutdown grace period', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFaultUpstream((req): FaultMode => {
      if (req.url === '/hang') return { kind: 'hang' };
      if (req.url === '/trickle') return { kind: 'trickle', chunks: 100, intervalMs: 100 };
      return { kind: 'delay', ms: 100 };
    });
    gw = await startTestGateway({
      // The upstream timeout is far beyond the grace period: only the shutdown ends these requests.
      regions: { 'us-east': { upstreams: [upstream.url], capacity: { rps: 10_000 }, timeoutMs: 30_000 } },
      routing: { default: 'us-east' },
      shutdownGraceMs: GRACE_MS,
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('logs them as errors with reason shutdown, and what finished in time as forwarded', async () => {
    const waiting = send(gw.publicUrl, '/hang', 'cut-before-headers');
    const streaming = send(gw.publicUrl, '/trickle', 'cut-mid-body');
    await streaming.headers;
    await until(() => upstream.requests.length === 2, 5000, 'both requests at the upstream');
    // Answered 100 ms after it arrives, well inside the grace period.
    const quick = send(gw.publicUrl, '/quick', 'finished-in-grace');
    await until(() => upstream.requests.length === 3, 5000, 'the quick request at the upstream');
    const shutdown = gw.shutdown();
    await Promise.all([waiting.done, streaming.done, quick.done, shutdown]);
    const line = (id: string) => gw.logs.find((l) => l.requestId === id);
    // No answer had begun: nothing was sent, so no status is claimed.
    expect(line('cut-before-headers')).toMatchObject({ outcome: 'error', reason: 'shutdown', status: 0 });
    // The upstream's 200 went out; the body was cut short.
    expect(line('cut-mid-body')).toMatchObject({ outcome: 'error', reason: 'shutdown', status: 200 });
    expect(line('finished-in-grace')).toMatchObject({ outcome: 'forwarded', status: 200 });
    expect(gw.logs.filter((l) => l.reason === 'client-closed')).toEqual([]);
  });
});
