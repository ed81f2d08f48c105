import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchText } from '../support/http-client.js';
import { HTTP_DATE_FIELD } from '../support/raw-socket.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

interface PlainRequest {
  req: IncomingMessage;
  body: string;
}

interface WsUpstream {
  url: string;
  upgrades: IncomingMessage[];
  /** Ordinary requests, once their body has arrived; all are answered `plain` but `/held`. */
  requests: PlainRequest[];
  /** Answers to `/held` requests, for the test to send. */
  held: ServerResponse[];
  /** When each handshake arrived (performance.now()). */
  arrivals: number[];
  sockets: Duplex[];
  close(): Promise<void>;
}

/** Writes an upstream's answer to a handshake onto its raw socket. */
type HandshakeAnswer = (req: IncomingMessage, socket: Duplex) => void;

/** Completes the handshake (with `extra` header lines), then echoes raw bytes back. */
function switchProtocols(extra = ''): HandshakeAnswer {
  return (req, socket) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`,
    );
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  };
}

/** A WebSocket upstream that answers each handshake with `answer`; by default it completes it and echoes. */
async function startWsUpstream(answer = switchProtocols()): Promise<WsUpstream> {
  const upgrades: IncomingMessage[] = [];
  const requests: PlainRequest[] = [];
  const held: ServerResponse[] = [];
  const arrivals: number[] = [];
  const sockets: Duplex[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    requests.push({ req, body });
    if (req.url === '/held') held.push(res);
    else res.end('plain');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    upgrades.push(req);
    arrivals.push(performance.now());
    sockets.push(socket);
    socket.on('error', () => socket.destroy());
    socket.on('end', () => socket.end());
    answer(req, socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    upgrades,
    requests,
    held,
    arrivals,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface RawClient {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

/** Opens a raw client connection and sends `bytes`. */
function rawClient(port: number, bytes: string): RawClient {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(bytes);
  return { socket, received: () => text, closed };
}

const WS_KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** Opens a raw client connection and sends a WebSocket handshake. */
function handshake(port: number, extraHeaders = ''): RawClient {
  return rawClient(
    port,
    `GET /chat HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WS_KEY}${extraHeaders}\r\n`,
  );
}

/** How many answers (status lines) `text` holds. */
function answers(text: string): number {
  return text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
}

/** Sends `first`, then once it is answered `second` on the same connection; resolves to both answers. */
async function oneAfterTheOther(port: number, first: string, second: string): Promise<string> {
  const client = rawClient(port, first);
  await until(() => answers(client.received()) === 1, 5000, 'the first answer');
  client.socket.write(second);
  await until(() => answers(client.received()) === 2, 5000, 'the second answer on the same connection');
  client.socket.destroy();
  return client.received();
}

describe('websocket upgrades', () => {
  let upstream: WsUpstream;
  let gw: TestGateway;

  async function start(
    capacity: Record<string, unknown> = { rps: 1000 },
    extra: Record<string, unknown> = {},
    answer?: HandshakeAnswer,
  ) {
    upstream = await startWsUpstream(answer);
    gw = await startTestGateway({
      ...extra,
      regions: {
        'us-east': {
          upstreams: [upstream.url],
          capacity,
          breaker: { volumeThreshold: 1, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
        },
      },
      routing: { default: 'us-east' },
    });
    return Number(new URL(gw.publicUrl).port);
  }

  afterEach(async () => {
    await gw?.close();
    await upstream?.close();
  });

  // The handshake reaches the chosen region and bytes flow both ways through the tunnel.
  it('tunnels an upgrade to the region and echoes data', async () => {
    const port = await start();
    const client = handshake(port, 'X-Floodgate-Region: forged\r\n');
    await until(() => client.received().includes('\r\n\r\n'));
    expect(client.received()).toMatch(/^HTTP\/1\.1 101/);
    expect(client.received().toLowerCase()).toContain('x-floodgate-region: us-east');
    client.socket.write('ping-bytes');
    await until(() => client.received().endsWith('ping-bytes'));
    const seen = upstream.upgrades[0]!;
    expect(seen.headers.upgrade).toBe('websocket');
    expect(seen.headers['x-floodgate-region']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    // The in-flight slot is returned once the handshake is done, though the tunnel stays open.
    await until(() => gw.view.regions()['us-east']!.inflight === 0);
    // A client that goes away takes the upstream side of its tunnel with it.
    client.socket.destroy();
    await until(() => upstream.sockets[0]!.destroyed, 5000, 'upstream socket closed');
  });

  // An upstream reset closes the client side too, and the gateway keeps serving.
  it('closes the client when the upstream resets', async () => {
    const port = await start();
    const client = handshake(port);
    await until(() => client.received().includes('101'));
    upstream.sockets[0]!.destroy();
    await client.closed;
    expect((await fetchText(`${gw.publicUrl}/plain`)).body).toBe('plain');
  });

  // A reconnect storm the bucket admits whole reaches the backend at the refill pace, as requests do.
  it('sends an admitted burst of handshakes upstream paced', async () => {
    const port = await start({ rps: 20, burst: 10 });
    const clients = Array.from({ length: 5 }, () => handshake(port));
    await until(() => clients.every((c) => c.received().includes('101')), 5000, 'all handshakes answered');
    for (const c of clients) c.socket.destroy();
    // Turns at 0, 0, 45, 90, 135 ms (the pace is rps / 0.9). The pacer's promise: in any window of
    // t ms at most t / 45 + 2 leave, so five leave over at least 135 ms, however they arrive. When
    // each left is its arrival plus its access line's waitMs (upstream arrivals would add
    // connection setup, 20 to 30 ms for the run's first connections).
    await until(() => gw.logs.filter((l) => l.status === 101).length === 5, 5000, 'five access lines');
    const left = gw.logs
      .filter((l) => l.status === 101)
      .map(
        (l) =>
          Date.parse(l.time as string) - (l.durationMs as number) + ((l.waitMs as number | undefined) ?? 0),
      )
      .sort((a, b) => a - b);
    expect(left[4]! - left[0]!).toBeGreaterThanOrEqual(130);
  });

  // A handshake still waiting for its turn when the grace period ends is closed with the tunnels,
  // not opened afterwards to hold the shutdown up.
  it('closes handshakes waiting for their turn at shutdown', async () => {
    const port = await start({ rps: 1, burst: 5, paceMaxWaitMs: 5000 }, { shutdownGraceMs: 200 });
    const clients = Array.from({ length: 3 }, () => handshake(port));
    await until(() => upstream.arrivals.length === 2, 5000, 'two handshakes upstream');
    const started = performance.now();
    await gw.close();
    await clients[2]!.closed;
    expect(performance.now() - started).toBeLessThan(3000);
    expect(clients[2]!.received()).toBe('');
    expect(upstream.arrivals.length).toBe(2);
  });

  // An upgrade to a region whose bucket is empty is refused like any other request.
  it('sheds upgrades with 503 when the region has no tokens', async () => {
    const port = await start({ rps: 0.01, burst: 1 });
    const first = handshake(port);
    await until(() => first.received().includes('101'));
    const second = handshake(port);
    await second.closed;
    expect(second.received()).toMatch(/^HTTP\/1\.1 503/);
    expect(second.received()).toContain('x-floodgate-shed: rate');
    expect(second.received()).toMatch(HTTP_DATE_FIELD);
    first.socket.destroy();
  });

  // A refused handshake's socket goes once the refusal is out, whatever the client does after: one
  // that sent more than a read buffer holds and stays silent would otherwise keep it for ever.
  it('closes the socket of a refused handshake even when the client sent on and stays', async () => {
    const port = await start();
    const open = async () =>
      Number(/^floodgate_upgraded_sockets (\d+)$/m.exec(await gw.metrics.text())?.[1] ?? Number.NaN);
    const tail = 'x'.repeat(256 << 10);
    const clients = ['bad host', 'a.example,b.example'].map((host) =>
      rawClient(
        port,
        `GET /chat HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WS_KEY}\r\n${tail}`,
      ),
    );
    for (const client of clients) await until(() => client.received().includes('400'), 5000, 'the refusal');
    await expect.poll(open, { timeout: 5000 }).toBe(0);
    expect(clients.every((client) => client.received().startsWith('HTTP/1.1 400 '))).toBe(true);
    expect(upstream.upgrades).toHaveLength(0);
  });

  // A client over its own limit is refused 429 on upgrades too.
  it('applies the client limit to upgrades', async () => {
    const port = await start({ rps: 1000 }, { clientLimit: { key: 'ip', rps: 0.01, burst: 1 } });
    const first = handshake(port);
    await until(() => first.received().includes('101'));
    const second = handshake(port);
    await second.closed;
    expect(second.received()).toMatch(/^HTTP\/1\.1 429/);
    expect(second.received()).toContain('x-floodgate-shed: client-rate');
    first.socket.destroy();
  });

  // A handshake the upstream refuses gets an HTTP answer, 502, like any request.
  it('answers a refused handshake with 502', async () => {
    const port = await start();
    await upstream.close();
    const refused = handshake(port);
    await refused.closed;
    expect(refused.received()).toMatch(/^HTTP\/1\.1 502/);
    expect(refused.received()).toContain('x-floodgate-region: us-east');
  });

  // Contract §3: the 101 goes on without the upstream's hop-by-hop headers (and those its connection
  // names) or gateway headers it made up; connection and upgrade stay, so the tunnel still opens.
  it('passes a 101 on without hop-by-hop or forged gateway headers', async () => {
    const forged =
      'Connection: X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nX-Floodgate-Cache: stale\r\nX-Request-Id: made-up\r\n';
    const port = await start(undefined, {}, switchProtocols(forged));
    const client = handshake(port);
    await until(() => client.received().includes('\r\n\r\n'));
    const head = client.received().split('\r\n\r\n')[0]!.toLowerCase();
    expect(head).toMatch(/^http\/1\.1 101/);
    expect(head).toContain('\r\nconnection: upgrade\r\n');
    expect(head).toContain('\r\nupgrade: websocket\r\n');
    expect(head).toContain('\r\nsec-websocket-accept: ');
    expect(head).toContain('\r\nx-floodgate-region: us-east\r\n');
    // The upstream sent none: a response passed on gets one (RFC 9110 §6.6.1).
    expect(`\r\n${head}\r\n`).toMatch(HTTP_DATE_FIELD);
    expect(head).not.toMatch(/x-secret|keep-alive|x-floodgate-cache|made-up/);
    client.socket.write('ping-bytes');
    await until(() => client.received().endsWith('ping-bytes'));
    client.socket.destroy();
  });

  /** The whole answer (head lower-cased) to a handshake the upstream answers with `answer`. */
  async function refusedWith(answer: string): Promise<{ head: string; body: string | undefined }> {
    const port = await start(undefined, {}, (_req, socket) => socket.write(answer));
    const refused = handshake(port);
    await refused.closed;
    const [head, body] = refused.received().split('\r\n\r\n');
    return { head: head!.toLowerCase(), body };
  }

  // An answer other than 101 is passed on as an HTTP answer of its own: filtered like any response,
  // with its content-length, on a connection that closes after it.
  it('passes a refused handshake on framed by its content-length', async () => {
    const { head, body } = await refusedWith(
      'HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Floodgate-Shed: forged\r\n\r\nhello',
    );
    expect(head).toMatch(/^http\/1\.1 403/);
    expect(head).toContain('\r\ncontent-length: 5\r\n');
    expect(head).toContain('\r\nconnection: close\r\n');
    expect(head).not.toMatch(/keep-alive|x-floodgate-shed/);
    expect(body).toBe('hello');
  });

  // A chunked refusal reaches the client de-chunked: without transfer-encoding, its body ends
  // where the connection does.
  it('passes a chunked refused handshake on delimited by the connection close', async () => {
    const { head, body } = await refusedWith(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nX-Floodgate-Shed: forged\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    expect(head).toMatch(/^http\/1\.1 403/);
    expect(head).toContain('\r\nconnection: close\r\n');
    expect(head).not.toMatch(/transfer-encoding|content-length|keep-alive|x-floodgate-shed/);
    expect(body).toBe('hello');
    expect(gw.logs.find((l) => l.status === 403)).toMatchObject({ outcome: 'forwarded', path: '/chat' });
  });

  // A refusal whose body breaks off is cut with a reset: ended cleanly, a body delimited by the
  // connection's end would look complete.
  it('resets the client when a refused handshake breaks off mid-body', async () => {
    const port = await start(undefined, {}, (_req, socket) =>
      socket.end('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
    );
    const refused = handshake(port);
    let ended: string | undefined;
    refused.socket.on('error', (err: NodeJS.ErrnoException) => {
      ended ??= err.code;
    });
    refused.socket.on('close', () => {
      ended ??= 'clean close';
    });
    await until(() => ended !== undefined, 10_000, 'client connection ended');
    expect(ended).toBe('ECONNRESET');
    expect(refused.received()).toMatch(/^HTTP\/1\.1 403/);
  });

  // A refused handshake's body has timeoutMs between chunks, as any answer's: a stall in it is cut.
  it('cuts the client off when a refused handshake stalls mid-body', async () => {
    upstream = await startWsUpstream((_req, socket) =>
      socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nten bytes.'),
    );
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [upstream.url], capacity: { rps: 1000 }, timeoutMs: 300 } },
      routing: { default: 'us-east' },
    });
    const refused = handshake(Number(new URL(gw.publicUrl).port));
    const started = Date.now();
    await refused.closed;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(refused.received()).toMatch(/^HTTP\/1\.1 403/);
    expect(refused.received()).toContain('ten bytes.');
  });

  // A handshake the upstream never answers gets 504 within timeoutMs and frees its slot.
  it('answers a hung handshake with 504', async () => {
    upstream = await startWsUpstream();
    const accepted: Socket[] = [];
    const silent = createTcpServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [silentUrl], capacity: { rps: 1000 }, timeoutMs: 300 } },
      routing: { default: 'us-east' },
    });
    const hung = handshake(Number(new URL(gw.publicUrl).port));
    await hung.closed;
    expect(hung.received()).toMatch(/^HTTP\/1\.1 504/);
    await until(() => gw.view.regions()['us-east']!.inflight === 0);
    for (const s of accepted) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  // timeoutMs bounds the wait for the whole handshake answer, as for any answer's headers: an
  // upstream trickling its 101 a byte at a time kept resetting an idle timer instead.
  it('answers 504 to a handshake whose answer trickles in past timeoutMs', async () => {
    const trickle: HandshakeAnswer = (req, socket) => {
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
      const answer = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
      let sent = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || sent === answer.length) return clearInterval(timer);
        socket.write(answer[sent++]!);
      }, 50);
    };
    upstream = await startWsUpstream(trickle);
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [upstream.url], capacity: { rps: 1000 }, timeoutMs: 300 } },
      routing: { default: 'us-east' },
    });
    const started = Date.now();
    const slow = handshake(Number(new URL(gw.publicUrl).port));
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 504/);
    expect(Date.now() - started).toBeLessThan(3000);
    await until(() => gw.view.regions()['us-east']!.inflight === 0);
  });

  // A handshake with a body is served as an ordinary request: held back until a switch, its body
  // would never reach an upstream that reads the whole request before it answers.
  it('serves a websocket handshake that has a body as an ordinary request', async () => {
    const port = await start();
    const client = rawClient(
      port,
      `GET /wsbody HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${WS_KEY}Content-Length: 5\r\n\r\nhello`,
    );
    await until(() => client.received().endsWith('\r\n\r\nplain'), 5000, 'the upstream answer');
    expect(upstream.upgrades).toHaveLength(0);
    expect(upstream.requests[0]!.body).toBe('hello');
    client.socket.destroy();
  });

  // RFC 9110 §7.8: a server may ignore Upgrade, and must in an HTTP/1.0 request (RFC 6455 needs
  // HTTP/1.1 and GET). What the gateway does not tunnel is served as the ordinary request it also
  // is: admitted, forwarded without Upgrade and the headers Connection names, logged and counted.
  it.each([
    [
      'h2c, as curl --http2 asks',
      'GET /h2 HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n',
    ],
    ['TLS/1.0', 'GET /tls HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: TLS/1.0\r\n'],
    [
      'websocket over HTTP/1.0',
      `GET /ws10 HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${WS_KEY}`,
    ],
    ['websocket by POST', `POST /wspost HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${WS_KEY}`],
  ])('serves an upgrade to %s as an ordinary request', async (_name, head) => {
    const port = await start();
    const path = head.split(' ')[1]!;
    const client = rawClient(
      port,
      `${head}Host: gw\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 0\r\n\r\n`,
    );
    await until(() => client.received().endsWith('\r\n\r\nplain'), 5000, 'the upstream answer');
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received().toLowerCase()).toContain('\r\nx-floodgate-region: us-east\r\n');
    expect(upstream.upgrades.length).toBe(0);
    const seen = upstream.requests[0]!.req.headers;
    expect(seen.upgrade).toBeUndefined();
    expect(seen['http2-settings']).toBeUndefined();
    expect(seen.connection).not.toMatch(/upgrade/i);
    await until(() => gw.logs.some((l) => l.path === path));
    expect(gw.logs.find((l) => l.path === path)).toMatchObject({ status: 200, outcome: 'forwarded' });
    expect(gw.view.regions()['us-east']!.outcomes.forwarded).toBe(1);
    client.socket.destroy();
  });

  // Served as a request, a declined upgrade keeps what requests have: its body, and a connection
  // that carries the next request.
  it('forwards the body of a declined upgrade and keeps its connection', async () => {
    await oneAfterTheOther(
      await start(),
      'POST /up HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'GET /next HTTP/1.1\r\nHost: gw\r\n\r\n',
    );
    expect(upstream.requests.map((r) => [r.req.url, r.body])).toEqual([
      ['/up', 'hello'],
      ['/next', ''],
    ]);
  });

  // Admission and shedding apply as to any request: with the bucket spent, a declined upgrade gets
  // the 503 every request would, counted and logged as shed.
  it('sheds a declined upgrade like any request', async () => {
    const h2c = 'GET /h2 HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n';
    const both = await oneAfterTheOther(await start({ rps: 0.01, burst: 1 }), h2c, h2c);
    const second = both.slice(both.lastIndexOf('HTTP/1.1 '));
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toContain('x-floodgate-shed: rate');
    expect(gw.view.regions()['us-east']!.outcomes).toMatchObject({ forwarded: 1, shed: 1 });
    expect(gw.logs.filter((l) => l.path === '/h2').map((l) => l.outcome)).toEqual(['forwarded', 'shed']);
    expect(upstream.requests.length).toBe(1);
  });

  // Node hands an upgrade's socket over while an answer to a request pipelined before it is still
  // pending; the declined upgrade is served once that answer is out, in order.
  it('answers a declined upgrade pipelined behind a pending request after it', async () => {
    const port = await start();
    const client = rawClient(
      port,
      'GET /held HTTP/1.1\r\nHost: gw\r\n\r\nGET /h2 HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    );
    await until(() => upstream.held.length === 1, 5000, 'the first request upstream');
    upstream.held[0]!.end('held');
    await until(() => answers(client.received()) === 2, 5000, 'both answers');
    const text = client.received();
    expect(text.indexOf('held')).toBeLessThan(text.indexOf('plain'));
    expect(upstream.requests.map((r) => r.req.url)).toEqual(['/held', '/h2']);
    client.socket.destroy();
  });

  // Handed back after an earlier answer, the connection must not keep that answer's keep-alive
  // idle timer: it would cut the declined upgrade's own answer once keepAliveTimeoutMs had passed.
  it('answers a declined upgrade pipelined behind a request however long its own answer takes', async () => {
    const port = await start({ rps: 1000 }, { listen: { keepAliveTimeoutMs: 200 } });
    const client = rawClient(
      port,
      'GET /held HTTP/1.1\r\nHost: gw\r\n\r\nGET /held HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    );
    await until(() => upstream.held.length === 1, 5000, 'the first request upstream');
    upstream.held[0]!.end('first');
    await until(() => upstream.held.length === 2, 5000, 'the declined upgrade upstream');
    // Past keepAliveTimeoutMs and the second Node adds to it.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    upstream.held[1]!.end('second');
    await until(() => answers(client.received()) === 2, 5000, 'both answers');
    expect(client.received()).toMatch(/first[\s\S]*HTTP\/1\.1 200 [\s\S]*second$/);
    client.socket.destroy();
  });

  // A socket handed to the upgrade event has left the server's connection list: waiting behind an
  // answer that never ends, it must still be cut when shutdown's grace runs out.
  it('cuts a declined upgrade waiting behind an endless answer when shutdown ends', async () => {
    const port = await start({ rps: 1000 }, { shutdownGraceMs: 300 });
    const client = rawClient(
      port,
      'GET /held HTTP/1.1\r\nHost: gw\r\n\r\nGET /h2 HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    );
    await until(() => upstream.held.length === 1, 5000, 'the first request upstream');
    upstream.held[0]!.write('streaming');
    const started = performance.now();
    await gw.close();
    // Generous for a busy machine: without the tracking it waits for the endless answer.
    expect(performance.now() - started).toBeLessThan(5000);
    client.socket.destroy();
  }, 15_000);

  // A handshake pipelined behind a pending request is tunnelled once that request is answered: a
  // 101 sent at once would go out first, and the earlier answer would be written into the tunnel.
  it('tunnels a handshake pipelined behind a pending request after its answer', async () => {
    const port = await start();
    const client = rawClient(
      port,
      `GET /held HTTP/1.1\r\nHost: gw\r\n\r\nGET /chat HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WS_KEY}\r\n`,
    );
    await until(() => upstream.held.length === 1, 5000, 'the first request upstream');
    // The handshake must not reach the upstream yet; a gateway that sent it at once would have done so by now.
    await until(() => upstream.upgrades.length > 0, 500).catch(() => {});
    expect(upstream.upgrades.length).toBe(0);
    upstream.held[0]!.end('held');
    await until(() => client.received().includes('101 Switching Protocols'), 5000, 'the 101');
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nheldHTTP\/1\.1 101 /);
    client.socket.write('ping-bytes');
    await until(() => client.received().endsWith('ping-bytes'));
    client.socket.destroy();
  });

  // An upgrade to a region with an open breaker gets 503 circuit-open.
  it('refuses upgrades while the breaker is open', async () => {
    const port = await start();
    const breaker = gw.gateway.runtime.regions.get('us-east')!.breaker;
    // Failed calls past the volume threshold open it, as failing upstream answers would.
    for (let i = 0; i < 100; i++) breaker.begin()?.fail();
    await vi.waitFor(() => expect(breaker.state).toBe('open'));
    const client = handshake(port);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 503/);
    expect(client.received()).toContain('x-floodgate-shed: circuit-open');
    expect(upstream.upgrades.length).toBe(0);
  });
});
