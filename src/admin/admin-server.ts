// The admin port: health, readiness, metrics, region state, config reload and the live dashboard.
// It is a separate listener from the public port so none of this is reachable through the proxy.
// GET routes are open (the port binds loopback unless told otherwise); POST routes require the
// bearer token when one is configured.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { listen } from '../http/listen.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { AdminView } from './admin-view.js';
import { loadDashboardAssets, type StaticAsset } from './dashboard/dashboard-assets.js';
import { RegionFeed, regionsBody } from './region-feed.js';
import { HISTORY_POINTS } from './region-history.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  token?: string;
  /** How often the regions are sampled for the history and /admin/events; 1000 unless a test wants it faster. */
  eventsIntervalMs?: number;
  /** Samples the history keeps; 300 (five minutes at one a second) unless a test wants fewer. */
  historyPoints?: number;
}

export interface AdminServer {
  port: number;
  /** Applies a reloaded `admin.token`: the old one stops working at once. */
  setToken(token: string | undefined): void;
  close(): Promise<void>;
}

/** The current bearer check, replaced when a reload changes the token. */
interface Guard {
  isAuthorized: (header: string | undefined) => boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
interface Route {
  method: 'GET' | 'POST';
  handle: Handler;
}

const DEFAULT_EVENTS_INTERVAL_MS = 1000;
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:";

export async function startAdminServer(
  opts: AdminServerOptions,
  view: AdminView,
  metrics: GatewayMetrics,
  logger: Logger,
): Promise<AdminServer> {
  const assets = await loadDashboardAssets();
  const feed = new RegionFeed(view, logger, {
    intervalMs: opts.eventsIntervalMs ?? DEFAULT_EVENTS_INTERVAL_MS,
    historyPoints: opts.historyPoints ?? HISTORY_POINTS,
  });
  const guard: Guard = { isAuthorized: bearerCheck(opts.token) };
  const routes = buildRoutes(guard, view, metrics, feed, assets);
  const server = createServer((req, res) => dispatch(routes, req, res, logger));
  try {
    await listen(server, opts.host, opts.port);
  } catch (err) {
    feed.close();
    throw err;
  }
  return {
    port: (server.address() as AddressInfo).port,
    setToken: (token) => {
      guard.isAuthorized = bearerCheck(token);
    },
    close: () => closeServer(server, feed),
  };
}

function buildRoutes(
  guard: Guard,
  view: AdminView,
  metrics: GatewayMetrics,
  feed: RegionFeed,
  assets: Map<string, StaticAsset>,
): Map<string, Route> {
  const routes = new Map<string, Route>([
    ['/healthz', { method: 'GET', handle: (_req, res) => send(res, 200, TEXT_TYPE, 'ok') }],
    [
      '/readyz',
      {
        method: 'GET',
        handle: (_req, res) =>
          view.ready() ? send(res, 200, TEXT_TYPE, 'ready') : send(res, 503, TEXT_TYPE, 'draining'),
      },
    ],
    [
      '/metrics',
      {
        method: 'GET',
        handle: async (_req, res) => send(res, 200, metrics.contentType, await metrics.text()),
      },
    ],
    ['/admin/regions', { method: 'GET', handle: (_req, res) => sendJson(res, 200, regionsBody(view)) }],
    ['/admin/config', { method: 'GET', handle: (_req, res) => sendJson(res, 200, view.configInfo()) }],
    ['/admin/events', { method: 'GET', handle: (req, res) => feed.add(req, res) }],
    [
      '/admin/history',
      { method: 'GET', handle: (_req, res) => sendJson(res, 200, { points: feed.points() }) },
    ],
    [
      '/admin/reload',
      {
        method: 'POST',
        handle: async (req, res) => {
          req.resume();
          if (!guard.isAuthorized(req.headers.authorization)) {
            res.setHeader('www-authenticate', 'Bearer');
            return sendJson(res, 401, { ok: false, errors: ['missing or wrong bearer token'] });
          }
          const result = await view.reload();
          sendJson(res, result.ok ? 200 : result.shuttingDown ? 503 : 400, result);
        },
      },
    ],
  ]);
  for (const [path, asset] of assets) {
    routes.set(path, { method: 'GET', handle: (_req, res) => sendAsset(res, asset) });
  }
  return routes;
}

async function dispatch(
  routes: Map<string, Route>,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  const route = routes.get(pathOf(req.url ?? '/'));
  if (route === undefined) return sendJson(res, 404, { error: 'not-found' });
  const method = req.method === 'HEAD' && route.method === 'GET' ? 'GET' : req.method;
  if (method !== route.method) {
    res.setHeader('allow', route.method === 'GET' ? 'GET, HEAD' : route.method);
    return sendJson(res, 405, { error: 'method-not-allowed' });
  }
  try {
    await route.handle(req, res);
  } catch (err) {
    logger.error({ err }, 'admin request failed');
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
    else res.destroy();
  }
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Hashing both sides first gives timingSafeEqual equal-length inputs, so neither the comparison
 * nor an early length check reveals how long the token is.
 */
function bearerCheck(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined || token === '') return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer TOKEN` is as good as `Bearer TOKEN`.
    const scheme = /^bearer +/i.exec(header ?? '');
    const presented = scheme === null ? '' : header!.slice(scheme[0].length).trim();
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON_TYPE, JSON.stringify(body));
}

function sendAsset(res: ServerResponse, asset: StaticAsset): void {
  res.writeHead(200, {
    'content-type': asset.contentType,
    'content-length': asset.body.length,
    'cache-control': 'no-cache',
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
  });
  res.end(asset.body);
}

function closeServer(server: Server, feed: RegionFeed): Promise<void> {
  feed.close();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
