import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Pool } from 'undici';
import { REGION_HEADER, RegionRouter, type RegionUpstreams } from './region-router.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/**
 * The smallest reasonable proxy on undici: keep-alive pools, streamed bodies, no protections of
 * any kind. It is the throughput ceiling for a Node proxy of this design and the "no protection"
 * baseline of the overload scenarios.
 */
export function createUndiciProxy(upstreams: RegionUpstreams): Server {
  const router = new RegionRouter(upstreams);
  const pools = new Map(router.origins.map((origin) => [origin, new Pool(origin, { pipelining: 1 })]));
  const server = createServer((req, res) => {
    const pool = pools.get(router.pick(req.headers[REGION_HEADER]))!;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pool.stream(
      {
        path: req.url ?? '/',
        method: req.method as 'GET',
        headers: withoutHopByHop(req.headers),
        body: hasBody ? req : null,
        signal: abort.signal,
        opaque: res,
      },
      ({ statusCode, headers, opaque }) => {
        const target = opaque as typeof res;
        target.writeHead(statusCode, withoutHopByHop(headers as IncomingHttpHeaders));
        return target;
      },
      (error) => {
        if (!error) return;
        if (res.headersSent) res.destroy();
        else res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad gateway"}');
      },
    );
  });
  server.on('close', () => {
    for (const pool of pools.values()) void pool.close();
  });
  return server;
}

function withoutHopByHop(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}
