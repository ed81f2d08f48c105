import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, OutputTail, onPath, PROXY_CORE, sleep, spawnOnCore, stopChild } from '../processes.js';
import type { RunningPeer } from './node-peers.js';
import type { RegionUpstreams } from './region-router.js';

export interface NginxProtections {
  /** Per-region `limit_req` (requests per second and burst), keyed by region. */
  limits: Record<string, { rps: number; burst: number }>;
  /** Path prefix whose GET answers are cached and served stale when the upstream fails. */
  staleCachePrefix: string;
  /** Upstream answer deadline, after which a kept copy is served instead. */
  timeoutMs: number;
}

/** A TLS listener beside the plain one, speaking HTTP/2 and HTTP/1.1 by ALPN. */
export interface NginxTls {
  cert: string;
  key: string;
}

export interface RunningNginx extends RunningPeer {
  /** The TLS listener's https:// URL, when `tls` was given. */
  readonly tlsUrl?: string;
}

export function nginxAvailable(): boolean {
  return onPath('nginx') !== undefined;
}

/** nginx as a plain reverse proxy, or with its stock overload tools when `protections` is given. */
export async function startNginx(
  upstreams: RegionUpstreams,
  protections?: NginxProtections,
  tls?: NginxTls,
): Promise<RunningNginx> {
  const prefix = await mkdtemp(join(tmpdir(), 'bench-nginx-'));
  await mkdir(join(prefix, 'cache'));
  const port = await freePort();
  const listenTls = tls && { ...tls, port: await freePort() };
  await writeFile(
    join(prefix, 'nginx.conf'),
    nginxConfig(prefix, { port, tls: listenTls }, upstreams, protections),
  );
  const child = spawnOnCore(
    PROXY_CORE,
    'nginx',
    ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', join(prefix, 'nginx.conf')],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const tail = new OutputTail();
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await stopChild(child, 3000);
    await rm(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/__ready`)).ok) {
        const name = protections ? 'nginx limit_req + stale cache' : 'nginx';
        const tlsUrl = listenTls && `https://127.0.0.1:${listenTls.port}`;
        return {
          name,
          url,
          ...(tlsUrl ? { tlsUrl } : {}),
          ...(child.pid === undefined ? {} : { pid: child.pid }),
          close,
        };
      }
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await close();
  throw new Error(`nginx did not start: ${tail}`);
}

export function nginxConfig(
  prefix: string,
  listen: { port: number; tls?: NginxTls & { port: number } },
  upstreams: RegionUpstreams,
  protections?: NginxProtections,
): string {
  const { port, tls } = listen;
  const regions = Object.keys(upstreams);
  const lines = [
    'master_process off;',
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${join(prefix, 'error.log')} warn;`,
    'events { worker_connections 16384; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${join(prefix, `${kind}_temp`)};`,
    ),
    '  map $http_x_region $bench_region {',
    `    default ${regions[0]};`,
    ...regions.map((region) => `    ${region} ${region};`),
    '  }',
    ...regions.flatMap((region) => [
      `  upstream ${region} {`,
      ...(upstreams[region] ?? []).map((origin) => `    server ${new URL(origin).host};`),
      '    keepalive 256;',
      '  }',
    ]),
    ...(protections ? protectionZones(regions, prefix, protections) : []),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    ...(tls
      ? [
          `    listen 127.0.0.1:${tls.port} ssl http2;`,
          `    ssl_certificate ${tls.cert};`,
          `    ssl_certificate_key ${tls.key};`,
          '    ssl_protocols TLSv1.2 TLSv1.3;',
          '    http2_max_concurrent_streams 128;',
        ]
      : []),
    '    keepalive_requests 1000000;',
    '    keepalive_timeout 60s;',
    '    location = /__ready { return 200 "ok"; }',
    '    location / {',
    ...proxyDirectives(regions, protections),
    '    }',
    ...(protections
      ? [
          `    location ${protections.staleCachePrefix} {`,
          ...proxyDirectives(regions, protections),
          '      proxy_cache stale;',
          '      proxy_cache_key $bench_region$request_uri;',
          '      proxy_cache_valid 200 1s;',
          '      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
          '      proxy_cache_background_update on;',
          '      add_header x-cache-status $upstream_cache_status always;',
          '    }',
        ]
      : []),
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

function protectionZones(regions: string[], prefix: string, protections: NginxProtections): string[] {
  return [
    `  proxy_cache_path ${join(prefix, 'cache')} levels=1 keys_zone=stale:10m inactive=10m use_temp_path=off;`,
    ...regions.flatMap((region, index) => {
      const limit = protections.limits[region];
      if (!limit) return [];
      return [
        `  map $bench_region $bench_limit_${index} {`,
        `    ${region} 1;`,
        '    default "";',
        '  }',
        `  limit_req_zone $bench_limit_${index} zone=region_${index}:1m rate=${Math.max(1, Math.round(limit.rps))}r/s;`,
      ];
    }),
  ];
}

function proxyDirectives(regions: string[], protections?: NginxProtections): string[] {
  const limits = protections
    ? regions.flatMap((region, index) => {
        const limit = protections.limits[region];
        return limit
          ? [`      limit_req zone=region_${index} burst=${Math.max(1, limit.burst)} nodelay;`]
          : [];
      })
    : [];
  return [
    '      proxy_pass http://$bench_region;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    ...(protections
      ? [
          `      proxy_connect_timeout ${protections.timeoutMs}ms;`,
          `      proxy_read_timeout ${protections.timeoutMs}ms;`,
          '      limit_req_status 503;',
        ]
      : []),
    ...limits,
  ];
}
