import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { PoolBody } from './body-pool.js';

/** How an upstream behaves during a fault window; `ok` the rest of the time. */
export type UpstreamFault = 'ok' | 'error-500' | 'hang' | 'reset' | 'slow';

export interface SoakUpstream {
  readonly url: string;
  fault: UpstreamFault;
  /** Requests whose body did not match the digest its sender declared. */
  readonly corruptedRequests: number;
  close(): Promise<void>;
}

const SLOW_MS = 150;

/**
 * A backend for the soak: `GET /soak/body/N` (and `/soak/likes/N`) answers body N of the pool,
 * `POST /soak/upload/N` checks the request body against body N and answers its digest, and
 * `/soak/stall/N` sends half of body N and then nothing, which the gateway must cut off.
 */
export async function startSoakUpstream(pool: PoolBody[]): Promise<SoakUpstream> {
  const sockets = new Set<Socket>();
  const state = { fault: 'ok' as UpstreamFault, corrupted: 0 };
  const server = createServer((req, res) => {
    if (state.fault === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (state.fault === 'hang') {
      req.resume();
      return;
    }
    const answer = () => respond(req, res, pool, state);
    if (state.fault === 'slow') setTimeout(answer, SLOW_MS);
    else answer();
  });
  // Node's default: after a surge, the extra pooled connections close within seconds, as with most backends.
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get fault() {
      return state.fault;
    },
    set fault(next: UpstreamFault) {
      state.fault = next;
    },
    get corruptedRequests() {
      return state.corrupted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function respond(
  req: IncomingMessage,
  res: ServerResponse,
  pool: PoolBody[],
  state: { fault: UpstreamFault; corrupted: number },
): void {
  const [, , kind, indexText] = (req.url ?? '').split('/');
  const body = pool[Number(indexText)];
  if (body === undefined) {
    req.resume();
    send(res, 404, Buffer.from('{"error":"no such body"}'));
    return;
  }
  if (kind === 'upload') {
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => {
      const received = hash.digest('hex');
      if (received !== body.sha256) state.corrupted++;
      send(res, received === body.sha256 ? 200 : 422, Buffer.from(JSON.stringify({ sha256: received })));
    });
    return;
  }
  req.resume();
  if (state.fault === 'error-500') {
    send(res, 500, Buffer.from('{"error":"injected"}'));
    return;
  }
  if (kind === 'stall') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.bytes.length });
    res.write(body.bytes.subarray(0, body.bytes.length >> 1));
    return;
  }
  send(res, 200, body.bytes);
}

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(body);
}
