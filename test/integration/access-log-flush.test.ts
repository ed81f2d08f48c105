import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccessLog } from '../../src/observability/access-log.js';
import { batchedDestination, createLogger, flushLogger } from '../../src/observability/logger.js';
import type { RequestContext } from '../../src/request/context.js';

const region = { name: 'us-east', jsonName: '"us-east"' };

function context(n: number): RequestContext {
  return {
    home: region,
    region,
    status: 200,
    priority: 'normal',
    requestId: `id-${n}`,
    client: '127.0.0.1',
    bytes: 10,
    req: { method: 'GET', url: `/n/${n}` },
  } as unknown as RequestContext;
}

async function countLines(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text === '' ? 0 : text.trimEnd().split('\n').length;
}

// Contract §5: access lines reach the destination within about a second, all of them, with no
// explicit flush: the batching destination writes large batches and flushes on its own each second.
describe('the batched access log', () => {
  it('writes every line of a burst, and the tail of it within a second or so, without a flush', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floodgate-log-'));
    const path = join(dir, 'access.log');
    const logger = createLogger('info', batchedDestination(path));
    const log = new AccessLog(logger);
    const count = 10_000;
    // 10,000 lines in one burst, then one more line: too few bytes to fill a batch by itself.
    for (let i = 0; i < count; i++) log.write(context(i), 'forwarded', 1);
    const lastAt = Date.now();
    log.write(context(count), 'forwarded', 1);
    await expect.poll(() => countLines(path), { timeout: 5_000, interval: 20 }).toBe(count + 1);
    // Generous for a busy machine; the periodic flush itself runs every 1,000 ms.
    expect(Date.now() - lastAt).toBeLessThan(3_000);
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    const ids = new Set(lines.map((l) => (JSON.parse(l) as { requestId: string }).requestId));
    expect(ids.size).toBe(count + 1);
    await flushLogger(logger);
    await rm(dir, { recursive: true, force: true });
  });
});
