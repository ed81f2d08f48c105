import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ClientLimiter } from '../../src/admission/client-limiter.js';
import { type CacheRequest, StaleCache } from '../../src/cache/stale-cache.js';

const MIB = 1024 * 1024;

function staleRequest(url: string): CacheRequest {
  return {
    method: 'GET',
    url,
    scheme: 'http',
    region: 'us-east',
    headers: { host: 'api.example' },
    rawHeaders: ['host', 'api.example'],
  };
}

/** A real collector: the run's own `gc` when exposed, else one switched on at runtime. */
function collector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

const gc = collector();

/** Live bytes: the JS heap plus Buffer memory, which lives outside it. */
function liveBytes(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** A distinct IPv4-looking key per index, the shape a flood of spoofed addresses would have. */
function addressKey(i: number): string {
  return `ip:${(i >>> 24) & 255}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

describe('memory bounds', () => {
  // A million distinct clients never hold more than maxKeys buckets, and the heap stops growing at the cap.
  it('keeps ClientLimiter within maxKeys under a million distinct keys', () => {
    const maxKeys = 10_000;
    let now = 0;
    const limiter = new ClientLimiter({ rps: 10, burst: 20, maxKeys }, () => now);
    const before = liveBytes();
    let atCap = 0;
    for (let i = 0; i < 1_000_000; i++) {
      now += 0.01;
      limiter.tryTake(addressKey(i));
      if (i % 10_000 === 0) expect(limiter.size).toBeLessThanOrEqual(maxKeys);
      if (i === 100_000) atCap = liveBytes();
    }
    const after = liveBytes();
    expect(limiter.size).toBe(maxKeys);
    // 10k buckets are a few MiB; a million retained keys would be well over 100 MiB.
    const bound = gc ? 32 * MIB : 96 * MIB;
    expect(after - before).toBeLessThan(bound);
    // Past the cap, nine hundred thousand more keys add (next to) nothing.
    if (gc) expect(after - atCap).toBeLessThan(8 * MIB);
  }, 60_000);

  // The most recent keys are the ones kept: an active client is not evicted by the flood.
  it('keeps the most recently seen clients', () => {
    let now = 0;
    const limiter = new ClientLimiter({ rps: 0.001, burst: 1, maxKeys: 100 }, () => now);
    for (let i = 0; i < 10_000; i++) {
      limiter.tryTake(addressKey(i));
      limiter.tryTake('h:active');
      now += 1;
    }
    // The active client spent its only token at the start: still known, so still limited; forgotten, it would pass.
    expect(limiter.tryTake('h:active')).toBe(false);
  });

  // Many distinct stale copies never account for more than maxBytes, and real memory follows the account.
  it('keeps StaleCache within maxBytes under many distinct keys', () => {
    const maxBytes = 2 * MIB;
    let now = 0;
    const cache = new StaleCache({ maxBytes, maxEntryBytes: 64 * 1024 }, () => now);
    const before = liveBytes();
    for (let i = 0; i < 200_000; i++) {
      now += 1;
      const capture = cache.captureFor(
        staleRequest(`/api/likes/${i}`),
        200,
        { 'content-type': 'text/plain' },
        60_000,
      );
      capture!.push(Buffer.allocUnsafe(i % 3 === 0 ? 4096 : i % 97));
      capture!.finish();
      if (i % 1000 === 0) expect(cache.bytesHeld).toBeLessThanOrEqual(maxBytes);
    }
    const after = liveBytes();
    expect(cache.bytesHeld).toBeLessThanOrEqual(maxBytes);
    expect(cache.size).toBeGreaterThan(0);
    // 200k copies kept whole would be hundreds of MiB; the bound plus bookkeeping is a handful.
    expect(after - before).toBeLessThan((gc ? 16 : 96) * MIB);
  }, 60_000);

  // A copy larger than maxEntryBytes is refused instead of evicting everything else to make room.
  it('refuses a single copy over maxEntryBytes', () => {
    const cache = new StaleCache({ maxBytes: MIB, maxEntryBytes: 4096 }, () => 0);
    const offer = (path: string, bytes: number) => {
      const capture = cache.captureFor(staleRequest(path), 200, {}, 1000)!;
      return capture.push(Buffer.alloc(bytes)) && capture.finish();
    };
    expect([offer('/small', 100), offer('/big', 8192)]).toEqual([true, false]);
    expect(cache.lookup(staleRequest('/small'))).toBeDefined();
  });
});
