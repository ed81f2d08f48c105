// timeoutMs runs from when a request leaves for its upstream, making the connection included. A
// request whose connection is not made in time never reached the upstream: it fails over like one
// refused, and the connection that comes after it is kept for the requests behind it.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, opensslAvailable } from '../support/certificates.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const TIMEOUT_MS = 400;
const HANDSHAKE_DELAY_MS = 1500;

describe.runIf(opensslAvailable())('a connection not made within timeoutMs', () => {
  let dir: string;
  let spare: FaultUpstream;
  let gw: TestGateway;
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  let connections = 0;
  let handshakeDone: Promise<void>;

  /** A TCP server handing each connection to `onConnection`; its https:// URL. */
  async function listen(onConnection: (socket: Socket) => void): Promise<string> {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      onConnection(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floodgate-connect-'));
    const certs = await makeCertificates(dir);
    const tls = createHttpsServer({ cert: certs.cert, key: certs.key }, (_req, res) => res.end('slow'));
    handshakeDone = new Promise((resolve) => tls.once('secureConnection', () => resolve()));
    spare = await startFaultUpstream();
    const region = (upstream: string) => ({
      upstreams: [upstream],
      capacity: { rps: 10_000, burst: 10_000 },
      timeoutMs: TIMEOUT_MS,
      breaker: { volumeThreshold: 100_000 },
      tls: { ca: certs.caPath },
    });
    // Never answers a ClientHello.
    const mute = await listen(() => {});
    // Starts TLS only HANDSHAKE_DELAY_MS after the TCP connection.
    const slow = await listen((socket) => {
      connections++;
      setTimeout(() => tls.emit('connection', socket), HANDSHAKE_DELAY_MS);
    });
    gw = await startTestGateway({
      regions: {
        mute: { ...region(mute), failover: ['spare'] },
        slow: region(slow),
        spare: { ...region(spare.url), tls: undefined },
      },
      routing: { default: 'mute' },
      shutdownGraceMs: 500,
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await gw?.close();
    await spare?.close();
    for (const server of servers) server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails a GET over to the next region in time', async () => {
    const started = Date.now();
    const res = await fetchText(`${gw.publicUrl}/x`);
    expect(res.status).toBe(200);
    expect(res.headers['x-floodgate-region']).toBe('spare');
    // undici alone took its 10 s connect timeout.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  // A body cannot go before the connection: timeoutMs bounds the wait for one all the same.
  it('answers a request with a body in time too', async () => {
    const started = Date.now();
    const res = await fetchText(`${gw.publicUrl}/with-body`, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('keeps the connection that came too late for the request that asked for it', async () => {
    const get = () => fetchText(`${gw.publicUrl}/y`, { headers: { 'x-region': 'slow' } });
    expect((await get()).status).toBe(504);
    // The handshake completes after the 504; the next requests are served on that one connection.
    await handshakeDone;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get()).status);
    expect(statuses).toEqual([200, 200, 200]);
    expect(connections).toBe(1);
  });

  // The request that timed out waits in undici for its connection until undici's connect timeout
  // (10 s); shutdown, once its grace period is over, does not wait for it.
  it('does not hold up shutdown past its grace period', async () => {
    expect((await fetchText(`${gw.publicUrl}/before-shutdown`)).status).toBe(200);
    const started = Date.now();
    await gw.close();
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
