import type { IncomingHttpHeaders } from 'node:http';

// RFC 9110 §7.6.1 hop-by-hop headers, plus the proxy-* family, the keep-alive of old clients and
// HTTP2-Settings (RFC 7540 §3.2.1), which HTTP/2 answers may not carry (Node throws on them).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Headers that describe the path a request took (`x-forwarded-*`, RFC 7239 `forwarded`): an
 * upstream may trust them, so whatever a client sent under these names is dropped and the
 * gateway sets its own.
 */
function isSetByProxy(lowerName: string): boolean {
  return lowerName.startsWith('x-forwarded-') || lowerName === 'forwarded';
}

// `expect: 100-continue` is answered by the gateway itself once the request is admitted
// (expect-continue.ts), and undici refuses to send it. A WebSocket handshake gets no 100 from
// Node, so there it is passed on (prepareUpgradeHeaders).
const ANSWERED_HERE = 'expect';

function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith('proxy-');
}

/**
 * The extra header names a `connection` header declares hop-by-hop (`connection: close, x-foo`).
 * Never `host`: it is end-to-end by definition (RFC 9112 §3.2), and a client naming it must not
 * make the upstream see its own address instead of the client's virtual host.
 */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const tokens = new Set<string>();
  for (const token of joined.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'host') tokens.add(name);
  }
  return tokens.size > 0 ? tokens : undefined;
}

/**
 * Request header names with `_` are dropped, as nginx does by default (`underscores_in_headers
 * off`): CGI-style backends (PHP, WSGI, Rack) map `-` and `_` to the same variable, so
 * `transfer_encoding` next to `content-length` would give them two framings, and `x_forwarded_for`
 * would shadow the gateway's own header. Such names are not malformed (RFC 9110 tokens allow `_`),
 * which is why they are dropped rather than refused.
 */
function hasUnderscore(name: string): boolean {
  return name.indexOf('_') !== -1;
}

/**
 * Whether the upstream sees something other than the client's own value of this request header
 * (or none at all): hop-by-hop headers, the ones the gateway sets in place of the client's, names
 * with `_`, `expect` and `via` (to which this hop is added). Headers a request's `connection`
 * names are dropped too; `connectionTokens` gives those.
 */
export function rewrittenUpstream(lowerName: string): boolean {
  return (
    isHopByHop(lowerName) ||
    isSetByProxy(lowerName) ||
    lowerName === ANSWERED_HERE ||
    lowerName === REQUEST_ID ||
    lowerName === MAX_FORWARDS ||
    lowerName === 'via' ||
    lowerName.startsWith('x-floodgate-') ||
    hasUnderscore(lowerName)
  );
}

export interface ForwardedValues {
  forwardedFor: string;
  proto: string;
  host: string | undefined;
  /** The request's id (contract §3): replaces whatever `x-request-id` the client sent. */
  requestId: string;
  /** This hop's `via` entry (RFC 9110 §7.6.3: a gateway must add one to each request it forwards). */
  via: string;
  /** The `max-forwards` to send in place of the client's (one less, max-forwards.ts), if any. */
  maxForwards: number | undefined;
}

const VIA_BY_VERSION: Record<string, string> = {
  '1.0': '1.0 floodgate',
  '1.1': '1.1 floodgate',
  // HTTP/2 names its version "2" (RFC 9113 §3).
  '2.0': '2 floodgate',
};

/** The `via` entry for a request received in HTTP version `version` (`req.httpVersion`). */
export function viaFor(version: string): string {
  return VIA_BY_VERSION[version] ?? `${version} floodgate`;
}

const REQUEST_ID = 'x-request-id';
const MAX_FORWARDS = 'max-forwards';

/**
 * Builds the flat `[name, value, ...]` header list sent upstream from the client's raw headers:
 * hop-by-hop headers (and those named in `connection`), client-sent `x-floodgate-*` and
 * `x-forwarded-*`, and names with `_` are dropped, then the gateway's own `x-forwarded-*`, request id
 * and `via` entry are appended. Raw headers keep
 * the client's spelling and order, so everything else reaches the upstream unchanged.
 */
export function upstreamRequestHeaders(
  rawHeaders: string[],
  connection: string | string[] | undefined,
  forwarded: ForwardedValues,
): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    // The Host sent on is the request's (the target's own for an absolute-form target, classify.ts).
    if (lower === 'host' && forwarded.host !== undefined) {
      out.push(name, forwarded.host);
      continue;
    }
    if (
      isHopByHop(lower) ||
      isSetByProxy(lower) ||
      lower === ANSWERED_HERE ||
      lower === REQUEST_ID ||
      lower.startsWith('x-floodgate-') ||
      hasUnderscore(lower)
    )
      continue;
    if (named?.has(lower)) continue;
    if (lower === MAX_FORWARDS && forwarded.maxForwards !== undefined) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (forwarded.maxForwards !== undefined) out.push(MAX_FORWARDS, String(forwarded.maxForwards));
  out.push('x-forwarded-for', forwarded.forwardedFor, 'x-forwarded-proto', forwarded.proto);
  if (forwarded.host !== undefined) out.push('x-forwarded-host', forwarded.host);
  // A `via` the client sent stays: the entries list every hop in order, this one last.
  out.push(REQUEST_ID, forwarded.requestId, 'via', forwarded.via);
  return out;
}

/**
 * An upstream response's headers as the flat `[name, value, ...]` list sent to the client:
 * hop-by-hop headers (and those named in `connection`) are left out, and so is any
 * `x-floodgate-*` an upstream sent, so the gateway's own headers cannot be forged from behind it.
 * A fresh list, rather than deleting from undici's object, keeps that object fast and lets Node
 * write the list as it is.
 */
export function clientResponseHeaders(headers: IncomingHttpHeaders): string[] {
  const named = connectionTokens(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    // The client is told its request's id, never one the upstream made up.
    if (isHopByHop(name) || name.startsWith('x-floodgate-') || name === REQUEST_ID || named?.has(name))
      continue;
    const value = headers[name];
    if (typeof value === 'string') out.push(name, value);
    else if (value !== undefined) for (const item of value) out.push(name, item);
  }
  return out;
}

/**
 * Whether an answer's `transfer-encoding` names more than chunked alone (RFC 9112 §6.1). undici
 * undoes only the chunking and the header is hop-by-hop, so the client would take what remains
 * (gzip, say) for the content itself. nginx refuses such an answer too, `identity` included.
 */
export function hasUndecodedCoding(transferEncoding: string | string[] | undefined): boolean {
  if (transferEncoding === undefined || transferEncoding === 'chunked') return false;
  // Two fields are two codings, or chunked twice: neither is chunked alone.
  return typeof transferEncoding !== 'string' || transferEncoding.trim().toLowerCase() !== 'chunked';
}

/** A flat header list as an object; a repeated name (set-cookie) becomes an array. */
export function headerListToObject(list: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/**
 * Prepares an upgrade request's header object for the tunnel: `connection` (reduced to `upgrade`)
 * and `upgrade` must reach the upstream for the handshake; every other hop-by-hop header, the
 * headers `connection` names, names with `_`, client-sent `x-floodgate-*` and `x-forwarded-*` go,
 * and the gateway's own `x-forwarded-*` are set.
 */
export function prepareUpgradeHeaders(headers: IncomingHttpHeaders, forwarded: ForwardedValues): void {
  const named = connectionTokens(headers.connection);
  for (const name of Object.keys(headers)) {
    const droppable = name !== 'connection' && name !== 'upgrade' && (isHopByHop(name) || named?.has(name));
    if (droppable || isSetByProxy(name) || name.startsWith('x-floodgate-') || hasUnderscore(name))
      delete headers[name];
  }
  headers.connection = 'upgrade';
  headers['x-forwarded-for'] = forwarded.forwardedFor;
  headers['x-forwarded-proto'] = forwarded.proto;
  if (forwarded.host !== undefined) headers['x-forwarded-host'] = forwarded.host;
  headers[REQUEST_ID] = forwarded.requestId;
  const via = headers.via;
  headers.via = via === undefined || via === '' ? forwarded.via : `${via}, ${forwarded.via}`;
}

/**
 * An upstream's answer to a WebSocket handshake, as the header object http-proxy writes to the
 * client: clientResponseHeaders' filtering, then the framing of what http-proxy does next. After a
 * 101 both sides speak WebSocket, so the answer keeps its `upgrade` and a `connection: upgrade` of
 * the gateway's making. Any other answer has its body piped de-chunked and the client's socket
 * ended after it: `transfer-encoding` has gone with the hop-by-hop set, its own `content-length`
 * (if any) stays, and `connection: close` makes the end of the connection the end of the body
 * (RFC 9112 §6.3).
 */
export function handshakeAnswerHeaders(headers: IncomingHttpHeaders, switched: boolean): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = headerListToObject(clientResponseHeaders(headers));
  if (!switched) out.connection = 'close';
  else {
    out.connection = 'upgrade';
    if (headers.upgrade !== undefined) out.upgrade = headers.upgrade;
  }
  return out;
}
