// The URLs a config names, parsed the way the libraries that open them will parse them, so that a
// URL `floodgate check` accepts can never throw later when a pool or a Redis client is made from it.

export type ParsedUrl = { ok: true; url: string } | { ok: false; problem: string };

/** The shape of an upstream: a scheme and an authority, at most a trailing "/". */
export const UPSTREAM_SHAPE = /^https?:\/\/([^/?#\s]+)\/?$/;
export const UPSTREAM_SHAPE_PROBLEM =
  'must be an http:// or https:// origin without a path, e.g. http://10.0.0.1:9001';

const MAX_PORT = 65535;

/**
 * An upstream origin as undici's Pool parses it (`parseOrigin` in undici's lib/core/util.js: the
 * WHATWG URL parser, http or https, no path, query or fragment), refusing besides what undici
 * accepts but cannot use: port 0 (nothing listens there) and credentials (undici never sends them).
 * The answer is the origin as the URL parser spells it (`http://0x7f.1:80/` is `http://127.0.0.1`),
 * so the pools, the WebSocket proxy, the admin view and the duplicate check all see one spelling.
 */
export function parseUpstreamOrigin(text: string): ParsedUrl {
  const shape = UPSTREAM_SHAPE.exec(text);
  if (shape === null) return { ok: false, problem: UPSTREAM_SHAPE_PROBLEM };
  const problem = authorityProblem(shape[1]!);
  if (problem !== undefined) return { ok: false, problem: `${JSON.stringify(text)}: ${problem}` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const host = hostOf(shape[1]!);
    return {
      ok: false,
      problem: `${JSON.stringify(text)}: ${JSON.stringify(host)} is not a host name or address`,
    };
  }
  // undici's own condition, kept although the shape already implies it, so the two cannot drift.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '')
    return { ok: false, problem: UPSTREAM_SHAPE_PROBLEM };
  return { ok: true, url: url.origin };
}

/**
 * A `cluster.redis` URL as ioredis will connect to it: a host, a port that can be connected to, and
 * at most a database number as the path. ioredis parses with the legacy `url.parse`, which lets a
 * bad port through to the socket; the WHATWG parser refuses what that socket would refuse.
 */
export function parseRedisUrl(text: string): ParsedUrl {
  const at = JSON.stringify(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const authority = /^rediss?:\/\/([^/?#]*)/.exec(text)?.[1];
    const problem = authority === undefined ? undefined : authorityProblem(authority.replace(/^.*@/, ''));
    return { ok: false, problem: `${at}: ${problem ?? 'does not parse as a URL'}` };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    return { ok: false, problem: 'must be a redis:// or rediss:// URL' };
  if (url.hostname === '') return { ok: false, problem: `${at}: names no host` };
  if (url.port === '0') return { ok: false, problem: `${at}: port 0 cannot be connected to (1-65535)` };
  if (!/^(\/\d*)?$/.test(url.pathname))
    return { ok: false, problem: `${at}: the path may only be a database number, e.g. redis://host:6379/0` };
  return { ok: true, url: text };
}

/** Explains what the URL parser would refuse in an authority, in words an operator can act on. */
function authorityProblem(authority: string): string | undefined {
  if (authority.includes('@')) return 'credentials in an upstream URL are never sent; remove them';
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) return 'the IPv6 address has no closing "]"';
    const rest = authority.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':'))
      return `unexpected ${JSON.stringify(rest)} after the IPv6 address`;
    port = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = authority.indexOf(':');
    port = colon === -1 ? undefined : authority.slice(colon + 1);
  }
  // An empty port means the scheme's default, as in `http://host:`.
  if (port === undefined || port === '') return undefined;
  if (!/^\d+$/.test(port)) return `port ${JSON.stringify(port)} is not a number`;
  const value = Number(port);
  if (value > MAX_PORT) return `port ${value} is out of range (1-${MAX_PORT})`;
  if (value === 0) return `port 0 cannot be connected to (1-${MAX_PORT})`;
  return undefined;
}

function hostOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1);
  const colon = authority.indexOf(':');
  return colon === -1 ? authority : authority.slice(0, colon);
}
