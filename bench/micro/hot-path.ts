/**
 * `node dist/bench/micro/hot-path.js`: what a few per-request pieces cost on their own, in
 * nanoseconds per call, next to each other in one run: the breaker's begin/succeed, the access
 * line (to a stream that discards it, so only building it counts), and a request id. A forwarded
 * request costs tens of microseconds; these tell which share of that each piece takes.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AccessLog } from '../../src/observability/access-log.js';
import { batchedDestination, createLogger } from '../../src/observability/logger.js';
import type { RequestContext } from '../../src/request/context.js';
import { requestIdFor } from '../../src/request/request-id.js';
import { RegionBreaker } from '../../src/upstream/breaker.js';

const ROUNDS = 200_000;

const BATCH = 1_000;
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** Runs in batches with the event loop turning between them, as on a server: promises settle. */
async function measure(name: string, fn: () => void): Promise<void> {
  for (let i = 0; i < ROUNDS / 10; i++) fn();
  await yieldToLoop();
  const started = process.hrtime.bigint();
  for (let done = 0; done < ROUNDS; done += BATCH) {
    for (let i = 0; i < BATCH; i++) fn();
    await yieldToLoop();
  }
  const ns = Number(process.hrtime.bigint() - started) / ROUNDS;
  process.stdout.write(`${name.padEnd(36)} ${ns.toFixed(0).padStart(6)} ns/call\n`);
}

const breaker = new RegionBreaker(
  { errorThresholdPercentage: 50, volumeThreshold: 20, windowMs: 10_000, resetTimeoutMs: 5_000 },
  () => {},
);
// A destination that drops the line: only building it is measured, not the write(2) it shares.
const access = new AccessLog(pino({ base: undefined }, { write: () => {} }));
const region = { name: 'us-east', jsonName: '"us-east"' };
const ctx = {
  home: region,
  region,
  status: 200,
  priority: 'normal',
  requestId: 'a1b2c3d4e5f6-1x',
  client: '127.0.0.1',
  upstream: 'http://127.0.0.1:9001',
  bytes: 1234,
  req: { method: 'GET', url: '/api/likes/12345?fields=count' },
} as unknown as RequestContext;

await measure('empty batch (the loop itself)', () => {});
await measure('breaker begin + succeed', () => breaker.begin()!.succeed());
await measure('access line (built, discarded)', () => access.write(ctx, 'forwarded', 1.2345));
const dir = mkdtempSync(join(tmpdir(), 'hot-path-'));
const toFile = new AccessLog(createLogger('info', batchedDestination(join(dir, 'access.log'))));
const sonic = pino.destination({ dest: join(dir, 'sonic.log'), sync: false });
const toSonic = new AccessLog(pino({ base: undefined }, sonic));
await measure('access line, batched, to a file', () => toFile.write(ctx, 'forwarded', 1.2345));
await measure('access line, one write per line', () => toSonic.write(ctx, 'forwarded', 1.2345));
sonic.flushSync();
await measure('request id (made)', () => requestIdFor(undefined));
await measure('request id (client value checked)', () => requestIdFor('0af7651916cd43dd8448eb211c80319c'));
breaker.shutdown();
rmSync(dir, { recursive: true, force: true });
