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
import { createLogger } from '../../src/observability/logger.js';
import { type RunningGateway, startGateway } from '../../src/start-gateway.js';

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
        capacity: { rps: 1000, burst: 1000 },
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

  beforeAll(async () => {
    if (!HAS_CHROMIUM) throw new Error(`the dashboard test needs Chromium under CI: ${MISSING_NOTE}`);
    for (const name of REGIONS) upstreams.set(name, await startUpstream());
    configDir = await mkdtemp(join(tmpdir(), 'floodgate-dashboard-'));
    profileDir = await mkdtemp(join(tmpdir(), 'floodgate-chromium-'));
    const configPath = join(configDir, 'gateway.yaml');
    await writeFile(configPath, stringify(gatewayConfig(upstreams)));
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    running = await startGateway({ configPath, logger: createLogger('warn', quiet) });
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
});
