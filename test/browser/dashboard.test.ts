import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type AdminServer, startAdminServer } from '../../src/admin/admin-server.js';
import type { AdminView, RegionView } from '../../src/admin/admin-view.js';
import type { HistoryPoint } from '../../src/admin/region-history.js';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { type RunningGateway, startGateway } from '../../src/start-gateway.js';
import { regionView } from '../support/region-view.js';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM_PATH);
const RUN = HAS_CHROMIUM || process.env.CI === 'true';
const MISSING_NOTE = `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const REGIONS = ['us-east', 'us-west', 'eu-west'];
const SCREENSHOT = fileURLToPath(new URL('../../test-output/dashboard.png', import.meta.url));
const SCREENSHOT_SCRIPTED = fileURLToPath(
  new URL('../../test-output/dashboard-upstream-5xx.png', import.meta.url),
);
const CAPACITY_RPS = 1000;
const HISTORY_BEFORE_RELOAD = 3;

if (!RUN) console.warn(`dashboard browser test skipped: ${MISSING_NOTE}`);

/** An upstream whose answer status the test can flip. */
interface SwitchableUpstream {
  url: string;
  status: number;
  close(): Promise<void>;
}

async function startUpstream(): Promise<SwitchableUpstream> {
  const upstream = { url: '', status: 200, close: async () => {} };
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(upstream.status, { 'content-type': 'application/json' });
    res.end('{"from":"upstream"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return upstream;
}

function gatewayConfig(upstreams: Map<string, SwitchableUpstream>): object {
  const regions = Object.fromEntries(
    REGIONS.map((name) => [
      name,
      {
        upstreams: [upstreams.get(name)!.url],
        capacity: { rps: CAPACITY_RPS, burst: 1000 },
        timeoutMs: 2000,
        // A long reset keeps the breaker open until the page has had time to show it.
        breaker: {
          errorThresholdPercentage: 50,
          volumeThreshold: 5,
          windowMs: 10_000,
          resetTimeoutMs: 120_000,
        },
      },
    ]),
  );
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    shutdownGraceMs: 2000,
    regions,
    routing: { header: 'x-region', default: 'us-east' },
    log: { level: 'warn' },
  };
}

async function regionBreaker(adminUrl: string, region: string): Promise<string | undefined> {
  const res = await fetch(`${adminUrl}/admin/regions`);
  const body = (await res.json()) as { regions: Record<string, { breaker: string }> };
  return body.regions[region]?.breaker;
}

async function historyLength(adminUrl: string): Promise<number> {
  const res = await fetch(`${adminUrl}/admin/history`);
  return ((await res.json()) as { points: HistoryPoint[] }).points.length;
}

/**
 * An admin view whose us-east region is admitted 40 and shed 10 a second, and whose upstreams
 * answer 8 good and 2 failing responses between any two reads: shed is 20% of offered and 20% of
 * the upstream answers are 5xx, whatever the timing.
 */
class ScriptedView implements AdminView {
  private reads = 0;

  regions(): Record<string, RegionView> {
    this.reads++;
    return {
      'us-east': regionView({
        admittedRps: 40,
        shedRps: 10,
        currentRps: 50,
        baselineRps: 45,
        rps: 60,
        outcomes: {
          forwarded: 8 * this.reads,
          failover: 0,
          stale: 0,
          shed: 2 * this.reads,
          error: 0,
          local: 0,
        },
        upstreamResponses: { '1xx': 0, '2xx': 8 * this.reads, '3xx': 0, '4xx': 0, '5xx': 2 * this.reads },
      }),
    };
  }

  configInfo() {
    return { version: 7, loadedAt: new Date().toISOString(), lastError: null };
  }

  async reload() {
    return { ok: true as const, version: 7 };
  }

  ready(): boolean {
    return true;
  }
}

/** Sends failing requests to the region until its breaker reports open. */
async function tripBreaker(running: RunningGateway, region: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const res = await fetch(`${running.publicUrl}/orders`, { headers: { 'x-region': region } });
    await res.arrayBuffer();
    if ((await regionBreaker(running.adminUrl!, region)) === 'open') return;
  }
  throw new Error(`the ${region} breaker did not open`);
}

describe.runIf(RUN)(`dashboard in a real browser${RUN ? '' : ` (skipped: ${MISSING_NOTE})`}`, () => {
  const upstreams = new Map<string, SwitchableUpstream>();
  const pageErrors: string[] = [];
  let configDir: string;
  let profileDir: string;
  let running: RunningGateway;
  let context: BrowserContext;
  let page: Page;
  let scripted: AdminServer;

  beforeAll(async () => {
    if (!HAS_CHROMIUM) throw new Error(`the dashboard test needs Chromium under CI: ${MISSING_NOTE}`);
    for (const name of REGIONS) upstreams.set(name, await startUpstream());
    configDir = await mkdtemp(join(tmpdir(), 'floodgate-dashboard-'));
    profileDir = await mkdtemp(join(tmpdir(), 'floodgate-chromium-'));
    const configPath = join(configDir, 'gateway.yaml');
    await writeFile(configPath, stringify(gatewayConfig(upstreams)));
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    running = await startGateway({ configPath, logger: createLogger('warn', quiet) });
    scripted = await startAdminServer(
      { host: '127.0.0.1', port: 0, eventsIntervalMs: 100 },
      new ScriptedView(),
      new GatewayMetrics(),
      createLogger('warn', quiet),
    );
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1366, height: 768 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await scripted?.close();
    await running?.shutdown();
    await Promise.all([...upstreams.values()].map((u) => u.close()));
    await Promise.all(
      [configDir, profileDir].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })),
    );
  });

  it('shows every region, then us-east as open and hot once its upstream fails', async () => {
    // The page follows the live stream: a breaker tripped by real failing traffic shows up as open.
    await page.goto(`${running.adminUrl}/`);
    await page
      .locator('article[data-region]')
      .nth(REGIONS.length - 1)
      .waitFor();
    const shown = await page.$$eval('article[data-region]', (cards) =>
      cards.map((c) => c.getAttribute('data-region')),
    );
    expect(shown.sort()).toEqual([...REGIONS].sort());
    const breakerText = (region: string) =>
      page.textContent(`article[data-region="${region}"] [data-field="breaker"]`);
    expect(await breakerText('us-east')).toBe('closed');

    upstreams.get('us-east')!.status = 500;
    await tripBreaker(running, 'us-east');
    // :text-is matches exactly, so `half-open` on the way does not count.
    await page.waitForSelector('article[data-region="us-east"] [data-field="breaker"]:text-is("open")', {
      timeout: 15_000,
    });

    const first = await page.getAttribute('article[data-region]', 'data-region');
    expect(first).toBe('us-east');
    expect(await page.isVisible('article[data-region="us-east"] [data-field="hot"]')).toBe(true);
    expect(await page.isVisible('article[data-region="us-west"] [data-field="hot"]')).toBe(false);
    expect(await breakerText('us-west')).toBe('closed');
    expect(await page.textContent('[data-field="connection"]')).toBe('live');

    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('draws the kept history at once after a reload mid-incident, with the limit beside admitted', async () => {
    // A refresh must not show empty charts: the admin port sends its samples before anything else.
    const deadline = Date.now() + 20_000;
    for (let kept = 0; kept < HISTORY_BEFORE_RELOAD; kept = await historyLength(running.adminUrl!)) {
      if (Date.now() > deadline) throw new Error(`only ${kept} samples kept after 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.reload();
    const card = 'article[data-region="us-east"]';
    await page.locator(card).waitFor();
    const shownHistory = Number(await page.getAttribute('main#regions', 'data-history-points'));
    expect(shownHistory).toBeGreaterThanOrEqual(HISTORY_BEFORE_RELOAD);
    for (const chart of ['chart-traffic', 'chart-surge', 'chart-errors']) {
      const points = Number(await page.getAttribute(`${card} [data-field="${chart}"]`, 'data-points'));
      expect(points, chart).toBeGreaterThanOrEqual(HISTORY_BEFORE_RELOAD);
    }
    expect(await page.textContent(`${card} [data-field="limit-rps"]`)).toBe(String(CAPACITY_RPS));
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('shows upstream 5xx and shed as a share of offered, from the samples the admin port computes', async () => {
    // 2 of every 10 upstream answers fail and 10 of 50 offered are shed: both read 20%.
    await page.goto(`http://127.0.0.1:${scripted.port}/`);
    const card = 'article[data-region="us-east"]';
    await page.waitForSelector(`${card} [data-field="upstream-5xx-share"]:text-is("20%")`, {
      timeout: 15_000,
    });
    expect(await page.textContent(`${card} [data-field="shed-share"]`)).toBe('20%');
    expect(Number(await page.textContent(`${card} [data-field="upstream-5xx"]`))).toBeGreaterThan(0);
    expect(await page.textContent(`${card} [data-field="limit-rps"]`)).toBe('60');
    expect(await page.textContent(`${card} [data-field="admitted-rps"]`)).toBe('40.0');
    expect(await page.getAttribute(card, 'class')).toContain('failing');
    await page.screenshot({ path: SCREENSHOT_SCRIPTED });
    expect(existsSync(SCREENSHOT_SCRIPTED)).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
