import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type ClusteredGateway, startClusteredGateway } from '../../src/cluster/clustered-gateway.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { type RedisServer, redisServerAvailable, startRedisServer } from '../support/redis-server.js';
import { toolAvailable } from '../support/tools.js';

const OPS = fileURLToPath(new URL('../../ops/', import.meta.url));
const RULES = join(OPS, 'prometheus-rules.yaml');
const RULE_TESTS = join(OPS, 'prometheus-rules.test.yaml');
const DASHBOARD = join(OPS, 'grafana-dashboard.json');
const PROMTOOL_HINT = 'apt-get install prometheus';
const TOOL_TIMEOUT_MS = 30_000;
const HAS_PROMTOOL = toolAvailable('promtool', 'prometheus', 'the promtool checks of ops/');
const HAS_REDIS = redisServerAvailable();

// A Floodgate metric name where one is used, not inside a recording rule's name (level:metric:ops).
const METRIC_NAME = /(?<![\w:])floodgate_\w+(?![\w:])/g;
const RECORDED_NAME = /(?<![\w:])\w+:\w+:\w+(?![\w:])/g;
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
}

async function ruleList(): Promise<Rule[]> {
  const doc = parse(await readFile(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Every PromQL expression in the dashboard: panel targets and the template variables' queries. */
async function dashboardExpressions(): Promise<string[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { definition?: string }[] };
  };
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : []));
  return [...targets, ...variables];
}

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: TOOL_TIMEOUT_MS, cwd: OPS });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Metric families in a scrape: name -> type. */
function families(scrape: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) found.set(m[1]!, m[2]!);
  return found;
}

describe('the alert rules', () => {
  it('give every alert a for: duration and a severity of critical or warning', async () => {
    // An alert without `for:` fires on a single bad scrape; without severity it cannot be routed.
    const alerts = (await ruleList()).filter((r) => r.alert !== undefined);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'FloodgateBreakerOpen',
        'FloodgateRegionSurging',
        'FloodgateShedRatioHigh',
        'FloodgateUpstream5xxRatioHigh',
        'FloodgateSharedLimitsDown',
      ]),
    );
    for (const alert of alerts) {
      expect(alert.for, alert.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning'], alert.alert).toContain(alert.labels?.severity);
    }
  });

  it('use only recording rules that the file itself defines', async () => {
    // promtool accepts an expression over a series nobody records; it would simply never fire.
    const rules = await ruleList();
    const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
    const used = rules.flatMap((r) => [...r.expr.matchAll(RECORDED_NAME)].map((m) => m[0]));
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(recorded, name).toContain(name);
  });
});

describe.runIf(HAS_PROMTOOL)(`promtool${HAS_PROMTOOL ? '' : ` (skipped: ${PROMTOOL_HINT})`}`, () => {
  it('accepts the rules file (promtool check rules)', () => {
    // Syntax, PromQL and template errors in any rule fail here.
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('fires the alerts the rule tests expect, and only those (promtool test rules)', () => {
    // ops/prometheus-rules.test.yaml feeds series in and names the alerts that must fire when.
    const { status, output } = promtool(['test', 'rules', RULE_TESTS]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });
});

describe.runIf(HAS_REDIS)(`a live scrape${HAS_REDIS ? '' : ' (skipped: no redis-server)'}`, () => {
  let redis: RedisServer;
  let upstream: FaultUpstream;
  let gateway: ClusteredGateway;
  let dir: string;
  let scrape: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startFaultUpstream();
    dir = await mkdtemp(join(tmpdir(), 'floodgate-ops-'));
    const configPath = join(dir, 'gateway.yaml');
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      regions: {
        'us-east': { upstreams: [upstream.url], capacity: { rps: 100, burst: 20 }, timeoutMs: 2000 },
      },
      routing: { default: 'us-east' },
      routes: [{ match: { pathPrefix: '/kept' }, staleCache: { ttlMs: 60_000 } }],
      cluster: { redis: redis.url },
      shutdownGraceMs: 1000,
      log: { level: 'warn' },
    };
    await writeFile(configPath, stringify(config));
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    gateway = await startClusteredGateway({
      configPath,
      workers: 1,
      serveAdmin: true,
      logger: pino({ level: 'warn' }, quiet),
    });
    for (const status of [200, 200, 503]) {
      upstream.setMode({ kind: 'status', status });
      await (await fetch(`${gateway.publicUrl}/kept/a`)).arrayBuffer();
    }
    scrape = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
  }, 60_000);

  afterAll(async () => {
    await gateway?.shutdown();
    await upstream?.close();
    await redis?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.runIf(HAS_PROMTOOL)('has no problem promtool check metrics reports in the whole scrape', () => {
    // prom-client's default nodejs_active_*_total are gauges named like counters: they are left out.
    expect(families(scrape).size).toBeGreaterThan(20);
    expect(families(scrape).has('nodejs_active_handles')).toBe(true);
    const { status, output } = promtool(['check', 'metrics'], scrape);
    expect(output.trim()).toBe('');
    expect(status).toBe(0);
  });

  it('exports every metric the Grafana dashboard and the alert rules use', async () => {
    // A renamed metric would leave a panel empty or an alert silent; the names must match a scrape.
    const exported = families(scrape);
    const expressions = [...(await dashboardExpressions()), ...(await ruleList()).map((r) => r.expr)];
    const used = new Set(expressions.flatMap((e) => [...e.matchAll(METRIC_NAME)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(15);
    for (const name of used) {
      const base = name.replace(HISTOGRAM_SUFFIX, '');
      const known = exported.has(name) || exported.get(base) === 'histogram';
      expect(known, `${name} is used in ops/ but not exported`).toBe(true);
    }
    for (const name of ['floodgate_upstream_responses_total', 'floodgate_shared_limits_up']) {
      expect(used).toContain(name);
    }
  });
});
