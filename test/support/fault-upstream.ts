/**
 * An upstream that misbehaves on demand, for integration tests: it records every request it sees
 * and answers according to the current mode (fixed, or chosen per request by a function).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  /** Default: 200 with JSON `{"ok":true,"path":...}`. */
  | {
      kind: 'ok';
      status?: number;
      body?: string | Buffer;
      headers?: Record<string, string>;
      /** Sent first as a 103 Early Hints. */
      earlyHints?: Record<string, string | string[]>;
    }
  | { kind: 'status'; status: number }
  /** Reads the request, never sends headers. */
  | { kind: 'hang' }
  /** Resets the connection as soon as the request headers arrive. */
  | { kind: 'reset' }
  /** Answers `status` as soon as the request headers arrive, reading none of the body. */
  | { kind: 'unread'; status: number }
  /** Reads none of the body and never answers: an upstream that stopped taking an upload. */
  | { kind: 'stuck' }
  /** Sends headers and `sendBytes` of a longer body, then nothing more. */
  | { kind: 'stall-mid-body'; sendBytes: number }
  /** Declares `declared` bytes, sends `send`, then ends the connection. */
  | { kind: 'short-body'; declared: number; send: number }
  /** Sends `chunks` small chunks, `intervalMs` apart, then ends. */
  | { kind: 'trickle'; chunks: number; intervalMs: number }
  /** Streams the request body back as it arrives. */
  | { kind: 'echo' }
  /** Answers like the default `ok` after `ms`. */
  | { kind: 'delay'; ms: number };

export type FaultModeChoice = FaultMode | ((req: IncomingMessage) => FaultMode);

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  /** Filled in as the body arrives; final once the upstream has answered (except for `reset`). */
  bodyBytes: number;
  /** Hex SHA-256 of the whole body; empty until the body has ended. */
  bodySha256: string;
}

export interface FaultUpstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Requests whose connection closed before their answer was complete. */
  readonly abandoned: number;
  setMode(mode: FaultModeChoice): void;
  close(): Promise<void>;
}

export function trickleChunk(index: number): string {
  return `chunk-${index}\n`;
}

export async function startFaultUpstream(initial: FaultModeChoice = { kind: 'ok' }): Promise<FaultUpstream> {
  let choice = initial;
  const requests: RecordedRequest[] = [];
  let abandoned = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const schedule = (ms: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const server = createServer((req, res) => {
    const record: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      bodySha256: '',
    };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) abandoned++;
    });
    const mode = typeof choice === 'function' ? choice(req) : choice;
    if (mode.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (mode.kind === 'unread') {
      res.writeHead(mode.status, { 'content-type': 'text/plain' });
      res.end('unread');
      return;
    }
    if (mode.kind === 'stuck') return;
    if (mode.kind === 'echo') {
      echo(req, res, record);
      return;
    }
    readBody(req, record, () => respond(mode, req, res, schedule));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get abandoned() {
      return abandoned;
    },
    setMode(mode) {
      choice = mode;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}

function readBody(req: IncomingMessage, record: RecordedRequest, done: () => void): void {
  const hash = createHash('sha256');
  req.on('data', (chunk: Buffer) => {
    record.bodyBytes += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => {
    record.bodySha256 = hash.digest('hex');
    done();
  });
}

function respond(
  mode: Exclude<FaultMode, { kind: 'reset' } | { kind: 'echo' } | { kind: 'unread' } | { kind: 'stuck' }>,
  req: IncomingMessage,
  res: ServerResponse,
  schedule: (ms: number, run: () => void) => void,
): void {
  switch (mode.kind) {
    case 'ok':
      sendOk(mode, req, res);
      break;
    case 'status':
      sendJson(res, mode.status, JSON.stringify({ ok: false, status: mode.status }));
      break;
    case 'hang':
      break;
    case 'stall-mid-body':
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': mode.sendBytes + 1024,
      });
      if (mode.sendBytes > 0) res.write(Buffer.alloc(mode.sendBytes, 's'));
      else res.flushHeaders();
      break;
    case 'short-body':
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': mode.declared });
      res.write(Buffer.alloc(mode.send, 'b'), () => res.socket?.end());
      break;
    case 'trickle':
      res.writeHead(200, { 'content-type': 'text/plain' });
      trickle(res, 0, mode.chunks, mode.intervalMs, schedule);
      break;
    case 'delay':
      schedule(mode.ms, () => sendOk({ kind: 'ok' }, req, res));
      break;
  }
}

function sendOk(mode: Extract<FaultMode, { kind: 'ok' }>, req: IncomingMessage, res: ServerResponse): void {
  if (res.destroyed) return;
  const body = mode.body ?? JSON.stringify({ ok: true, path: req.url });
  if (mode.earlyHints !== undefined) res.writeEarlyHints(mode.earlyHints);
  res.writeHead(mode.status ?? 200, {
    'content-type': 'application/json',
    ...mode.headers,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function trickle(
  res: ServerResponse,
  index: number,
  chunks: number,
  intervalMs: number,
  schedule: (ms: number, run: () => void) => void,
): void {
  if (res.destroyed) return;
  if (index >= chunks) {
    res.end();
    return;
  }
  res.write(trickleChunk(index));
  schedule(intervalMs, () => trickle(res, index + 1, chunks, intervalMs, schedule));
}

function echo(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): void {
  const hash = createHash('sha256');
  res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
  // Headers go out at once so a client can see the echo start before it has sent the whole body.
  res.flushHeaders();
  req.on('data', (chunk: Buffer) => {
    record.bodyBytes += chunk.length;
    hash.update(chunk);
    if (!res.write(chunk)) {
      req.pause();
      res.once('drain', () => req.resume());
    }
  });
  req.on('end', () => {
    record.bodySha256 = hash.digest('hex');
    res.end();
  });
}

/** An upstream URL nothing listens on: connections to it are refused. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
