import type { Redis } from 'ioredis';
import { type SharedStore, sharedStateClient } from './redis-client.js';

/** One lease asked of a region's shared bucket. */
export interface LeaseRequest {
  key: string;
  /** Refill, tokens per second. */
  rate: number;
  burst: number;
  /** Tokens wanted; fewer may be granted, never more. */
  want: number;
  /** Tokens the shared bucket must keep after this lease (the priority floor, see lease-plan.ts). */
  floor: number;
}

export interface LeaseReply {
  granted: number;
  /** The shared fill left after the lease. */
  remaining: number;
  /** When fewer than wanted were granted: milliseconds until the whole lease could be granted. */
  waitMs: number;
}

/** Where shared buckets live: Redis in production, memory in the unit tests. */
export interface BucketStore extends SharedStore {
  lease(request: LeaseRequest): Promise<LeaseReply>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
}

// The bucket is a hash {tokens, at}. Redis's own TIME is the clock, so gateways whose clocks
// disagree still refill one bucket consistently. A missing key is a full bucket: keys expire only
// after the bucket would have refilled anyway. Grants are whole tokens and leave `floor` behind.
const LEASE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = tokens + (now - at) * rate / 1000
end
at = now
if tokens > burst then tokens = burst end
local granted = math.floor(math.min(want, tokens - floor))
if granted < 0 then granted = 0 end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], ttl)
local wait = 0
if granted < want and rate > 0 then
  wait = math.ceil((floor + want - tokens) * 1000 / rate)
end
return { granted, string.format('%.17g', tokens), wait }
`;

// Beyond this idle time a bucket is full whatever happened before, so its key may go.
const KEY_TTL_MARGIN_MS = 1000;

interface LeaseCommand {
  floodgateLease(key: string, ...args: Array<string | number>): Promise<[number, string, number]>;
}

export interface RedisBucketStoreOptions {
  url: string;
  /** A command without an answer after this long fails, and the caller falls back. */
  timeoutMs: number;
}

/**
 * Shared buckets in Redis, leased through one Lua script so each lease is atomic. A Redis outage
 * is noticed within one lease (see redis-client.ts).
 */
export class RedisBucketStore implements BucketStore {
  private readonly redis: Redis;
  readonly connect: () => Promise<void>;

  constructor(options: RedisBucketStoreOptions) {
    const client = sharedStateClient(options.url, options.timeoutMs);
    this.redis = client.redis;
    this.connect = client.connect;
    this.redis.defineCommand('floodgateLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
  }

  async lease(request: LeaseRequest): Promise<LeaseReply> {
    const ttlMs = Math.ceil((request.burst / Math.max(request.rate, 1e-9)) * 1000) + KEY_TTL_MARGIN_MS;
    const [granted, remaining, waitMs] = await (this.redis as unknown as LeaseCommand).floodgateLease(
      request.key,
      request.rate,
      request.burst,
      request.want,
      request.floor,
      Math.min(ttlMs, 2 ** 31),
    );
    return { granted: Number(granted), remaining: Number(remaining), waitMs: Number(waitMs) };
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
