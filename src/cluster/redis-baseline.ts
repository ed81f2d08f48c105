import type { Redis } from 'ioredis';
import type { SharedSurgeReading, SurgeContribution } from '../admission/surge-detector.js';
import { type SharedStore, sharedStateClient } from './redis-client.js';

/** One process's round with a region's shared baseline: what it counted, and what it learns back. */
export interface BaselineExchange extends SurgeContribution {
  /** The region's key; the per-second counts live beside it (keep a hash tag in it for Redis Cluster). */
  key: string;
  /** The caller's wall-clock second: the group's seconds are counted on it. */
  second: number;
}

/** Where the group's baselines live. */
export interface BaselineStore extends SharedStore {
  /** Adds the caller's count to its second, folds every completed second, and returns the reading. */
  exchange(request: BaselineExchange): Promise<SharedSurgeReading>;
}

// Two keys per region, one hash slot (the braces): KEYS[1] is {baseline, folded, since}, the
// baseline and the last second folded into it; KEYS[2] maps a second to the requests the group
// offered in it. Each call adds its count to its own second, folds every second before it that has
// not been folded yet (once, whoever comes first: seconds before the last call hold no counts, so a
// long gap folds as zeros in one step), and reads the current rate over the completed seconds of the
// window. A missing key is a fresh group, starting from the caller's prior.
const EXCHANGE_SCRIPT = `
local second = tonumber(ARGV[1])
local offered = tonumber(ARGV[2])
local prior = tonumber(ARGV[3])
local alpha = tonumber(ARGV[4])
if ARGV[6] == '1' then alpha = tonumber(ARGV[5]) end
local window = tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local state = redis.call('HMGET', KEYS[1], 'baseline', 'folded', 'since')
local baseline = tonumber(state[1])
local folded = tonumber(state[2])
local since = tonumber(state[3])
if baseline == nil or folded == nil or since == nil then
  baseline = prior
  folded = second - 1
  since = second
end
if offered > 0 then redis.call('HINCRBY', KEYS[2], second, offered) end
local last = second - 1
if last > folded then
  local stepwise = math.min(last - folded, window + 2)
  for s = folded + 1, folded + stepwise do
    local count = tonumber(redis.call('HGET', KEYS[2], s)) or 0
    baseline = baseline + alpha * (count - baseline)
  end
  local idle = last - folded - stepwise
  if idle > 0 then baseline = baseline * (1 - alpha) ^ idle end
  folded = last
end
local from = math.max(second - window, since)
local total = 0
local recent = 0
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  local s = tonumber(fields[i])
  local count = tonumber(fields[i + 1])
  if s < second - window - 2 then
    redis.call('HDEL', KEYS[2], fields[i])
  elseif s >= from and s <= last then
    total = total + count
    if s == last then recent = count end
  end
end
local span = math.max(1, last - from + 1)
redis.call('HSET', KEYS[1], 'baseline', string.format('%.17g', baseline), 'folded', folded, 'since', since)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return { string.format('%.17g', baseline), string.format('%.17g', total / span), tostring(recent) }
`;

interface ExchangeCommand {
  floodgateBaseline(
    baselineKey: string,
    countsKey: string,
    ...args: Array<string | number>
  ): Promise<[string, string, string]>;
}

// A group idle for this many half-lives has a baseline near zero anyway; its keys may go, and a
// group starting again starts from its prior.
const TTL_HALF_LIVES = 10;
const MIN_TTL_MS = 60_000;

/** The group's surge baselines in Redis, one atomic script per exchange. */
export class RedisBaselineStore implements BaselineStore {
  private readonly redis: Redis;
  readonly connect: () => Promise<void>;

  constructor(options: { url: string; timeoutMs: number }) {
    const client = sharedStateClient(options.url, options.timeoutMs);
    this.redis = client.redis;
    this.connect = client.connect;
    this.redis.defineCommand('floodgateBaseline', { numberOfKeys: 2, lua: EXCHANGE_SCRIPT });
  }

  async exchange(request: BaselineExchange): Promise<SharedSurgeReading> {
    const ttlMs = Math.min(Math.max(request.halfLifeMs * TTL_HALF_LIVES, MIN_TTL_MS), 2 ** 31);
    const key = request.key;
    const [baseline, current, recent] = await (this.redis as unknown as ExchangeCommand).floodgateBaseline(
      key,
      `${key}:seconds`,
      request.second,
      request.offered,
      request.priorRps,
      request.alpha,
      request.surgingAlpha,
      request.surging ? 1 : 0,
      request.windowSeconds,
      Math.round(ttlMs),
    );
    return { baselineRps: Number(baseline), currentRps: Number(current), lastSecondRps: Number(recent) };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
