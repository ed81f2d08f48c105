import { type ClientHttp2Session, connect, type IncomingHttpHeaders } from 'node:http2';

export interface Http2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The 1xx answers before the final one, in order. */
  informational: IncomingHttpHeaders[];
  body: Buffer;
}

/** A node:http2 client session to an https URL, trusting `ca`. */
export function http2Session(url: string, ca: Buffer): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(url, { ca });
    session.once('connect', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** One request as a stream on `session`; `body` is sent as DATA frames without a content-length. */
export function http2Request(
  session: ClientHttp2Session,
  headers: Record<string, string | string[]>,
  body?: Buffer,
): Promise<Http2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let answer: IncomingHttpHeaders = {};
    const informational: IncomingHttpHeaders[] = [];
    stream.on('headers', (h) => informational.push(h));
    stream.on('response', (h) => {
      answer = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({
        status: Number(answer[':status']),
        headers: answer,
        informational,
        body: Buffer.concat(chunks),
      }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}
