import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floodgateBuilt, startFloodgate } from '../floodgate.js';
import { type H2loadResult, h2loadAvailable, runH2load } from '../h2load.js';
import { nginxAvailable, startNginx } from '../peers/nginx.js';
import type { RegionUpstreams } from '../peers/region-router.js';
import { onPath } from '../processes.js';
import {
  formatNumber,
  formatRatio,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
  type Table,
} from '../scenario.js';
import { type Certificates, makeCertificates } from '../tls-certificates.js';
import { startUpstreams } from '../upstreams.js';
import { idleProtectionsConfig } from './overhead.js';

/** Requests in flight in every row: HTTP/1.1 as connections, HTTP/2 as streams over fewer of them. */
const IN_FLIGHT = 50;
const H2_CONNECTIONS = 10;
const PATH = '/small';

type Protocol = 'http/1.1' | 'https/1.1' | 'h2 (TLS)';
const PROTOCOLS: Protocol[] = ['http/1.1', 'https/1.1', 'h2 (TLS)'];

interface TlsRow {
  proxy: 'floodgate' | 'nginx';
  protocol: Protocol;
  load: H2loadResult;
}

interface Endpoint {
  url: string;
  close(): Promise<void>;
}

/**
 * The cost of TLS and HTTP/2 on the public port: Floodgate over plain HTTP/1.1 (the reference),
 * HTTPS/1.1 and HTTP/2 over TLS, next to nginx with the same certificate, all driven by h2load with
 * the same number of requests in flight. Every protection is configured and idle, as in `overhead`.
 */
export const tlsScenario: Scenario = {
  name: 'tls',
  title: 'TLS and HTTP/2 on the public port',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    if (!h2loadAvailable()) throw new Error('h2load is not installed (apt-get install nghttp2-client)');
    if (!floodgateBuilt()) throw new Error('floodgate is not built (npm run build)');
    if (!onPath('openssl')) throw new Error('openssl is not installed: it makes the certificates');
    const durationSec = context.quick ? 1 : 10;
    const warmUpSec = context.quick ? 1 : 2;
    const notes: string[] = [];
    const rows: TlsRow[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'bench-tls-'));
    const host = await startUpstreams([{ name: 'origin' }]);
    try {
      const certs = await makeCertificates(dir);
      const upstreams: RegionUpstreams = { origin: host.urls };
      const proxies = nginxAvailable() ? (['floodgate', 'nginx'] as const) : (['floodgate'] as const);
      if (!nginxAvailable()) notes.push('nginx: skipped, not installed');
      for (const proxy of proxies) {
        for (const protocol of PROTOCOLS) {
          context.progress.startPhase(`${proxy} ${protocol}`);
          const endpoint = await start(proxy, protocol, upstreams, certs);
          try {
            const load = await runH2load({
              url: `${endpoint.url}${PATH}`,
              http1: protocol !== 'h2 (TLS)',
              clients: protocol === 'h2 (TLS)' ? H2_CONNECTIONS : IN_FLIGHT,
              streams: IN_FLIGHT / H2_CONNECTIONS,
              durationSec,
              warmUpSec,
            });
            rows.push({ proxy, protocol, load });
            context.progress.note(`${proxy} ${protocol}: ${formatNumber(load.rps)} req/s`);
          } finally {
            await endpoint.close();
          }
        }
      }
    } finally {
      await host.close();
      await rm(dir, { recursive: true, force: true });
    }
    return {
      data: { inFlight: IN_FLIGHT, h2Connections: H2_CONNECTIONS, durationSec, warmUpSec, rows },
      tables: tlsTables(rows),
      charts: [],
      notes: [
        `h2load, ${IN_FLIGHT} requests in flight: ${IN_FLIGHT} HTTP/1.1 keep-alive connections, or ${H2_CONNECTIONS} HTTP/2 connections with ${IN_FLIGHT / H2_CONNECTIONS} streams each; GET ${PATH} for ${durationSec} s after ${warmUpSec} s of warm-up, each row on a freshly started proxy.`,
        'Certificates: an ECDSA P-256 leaf made with openssl for this run ("negotiated" is what h2load reports). nginx runs one worker, Floodgate one process, each on the proxy core.',
        ...notes,
      ],
    };
  },
};

async function start(
  proxy: TlsRow['proxy'],
  protocol: Protocol,
  upstreams: RegionUpstreams,
  certs: Certificates,
): Promise<Endpoint> {
  const tls = { cert: certs.certPath, key: certs.keyPath };
  if (proxy === 'nginx') {
    const nginx = await startNginx(upstreams, undefined, protocol === 'http/1.1' ? undefined : tls);
    return { url: nginx.tlsUrl ?? nginx.url, close: () => nginx.close() };
  }
  const config = idleProtectionsConfig(upstreams);
  const floodgate = await startFloodgate(protocol === 'http/1.1' ? config : { ...config, listen: { tls } });
  return { url: floodgate.url, close: () => floodgate.close() };
}

function tlsTables(rows: TlsRow[]): Table[] {
  const find = (proxy: TlsRow['proxy'], protocol: Protocol) =>
    rows.find((row) => row.proxy === proxy && row.protocol === protocol);
  const reference = find('floodgate', 'http/1.1');
  const tables: Table[] = [
    {
      title: 'Throughput by protocol',
      columns: [
        'proxy',
        'protocol',
        'negotiated',
        'req/s',
        'mean ms',
        'max ms',
        'non-2xx',
        'failed',
        'vs floodgate http/1.1',
      ],
      rows: rows.map((row) => [
        row.proxy,
        row.protocol,
        [row.load.tlsVersion, row.load.application].filter(Boolean).join(' '),
        formatNumber(row.load.rps),
        formatNumber(row.load.meanMs, 2),
        formatNumber(row.load.maxMs, 1),
        row.load.notOk,
        row.load.failed,
        reference ? formatRatio(row.load.rps / reference.load.rps) : '-',
      ]),
    },
  ];
  const pairs = PROTOCOLS.flatMap((protocol) => {
    const ours = find('floodgate', protocol);
    const theirs = find('nginx', protocol);
    return ours && theirs
      ? [[protocol, formatNumber(theirs.load.rps), formatRatio(ours.load.rps / theirs.load.rps)]]
      : [];
  });
  if (pairs.length > 0) {
    tables.push({
      title: 'Floodgate against nginx',
      columns: ['protocol', 'nginx req/s', 'floodgate / nginx'],
      rows: pairs,
    });
  }
  return tables;
}
