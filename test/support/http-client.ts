import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { request } from 'undici';

export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request through undici, body read as text. */
export async function fetchText(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<SimpleResponse> {
  const res = await request(url, {
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

export interface RawExchange {
  /** Everything the server sent before it closed the connection (or the timeout hit). */
  text: string;
  /** How the connection ended. */
  ended: 'closed' | 'timeout';
  elapsedMs: number;
}

/** Writes raw bytes to host:port and collects the answer until the server closes the connection. */
export function rawRequest(port: number, payload: string | Buffer, timeoutMs = 5000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    function finish(ended: 'closed' | 'timeout') {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), ended, elapsedMs: Date.now() - started });
    }
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? finish('closed') : reject(err),
    );
    socket.write(payload);
  });
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
