import { Redis } from 'ioredis';

/** A store of state shared between gateways (Redis in production, memory in unit tests). */
export interface SharedStore {
  /** Resolves once the store answers; rejects when it cannot be reached at start. */
  connect(): Promise<void>;
  close(): Promise<void>;
}

const RECONNECT_MAX_DELAY_MS = 1000;
const RECONNECT_STEP_MS = 100;
const MIN_CONNECT_TIMEOUT_MS = 1000;

/**
 * A Redis client for state shared between gateways: commands fail at once while disconnected (no
 * offline queue) and time out after `timeoutMs`, so an outage is noticed within one command and
 * the caller falls back to local state; the client keeps reconnecting in the background.
 */
export function sharedStateClient(
  url: string,
  timeoutMs: number,
): { redis: Redis; connect(): Promise<void> } {
  const connectTimeoutMs = Math.max(timeoutMs, MIN_CONNECT_TIMEOUT_MS);
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: connectTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * RECONNECT_STEP_MS, RECONNECT_MAX_DELAY_MS),
  });
  // Failures reach the caller through the failed command; an unhandled 'error' event would only print.
  redis.on('error', () => {});
  const connect = async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out connecting to Redis')), connectTimeoutMs);
    });
    try {
      await Promise.race([redis.connect(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { redis, connect };
}

/**
 * Connects a store and runs the first round before the gateway serves, then one round every
 * `everyMs` (0: the caller drives the rounds). A store that cannot be reached is reported through
 * `onDown` and the rounds go on: they are what notices it coming back.
 */
export async function startRounds(options: {
  store: SharedStore;
  onDown: (err: unknown) => void;
  round: () => Promise<void>;
  everyMs: number;
  closed: () => boolean;
}): Promise<NodeJS.Timeout | undefined> {
  try {
    await options.store.connect();
  } catch (err) {
    options.onDown(err);
  }
  await options.round();
  if (options.everyMs <= 0 || options.closed()) return undefined;
  const timer = setInterval(() => void options.round(), options.everyMs);
  timer.unref();
  return timer;
}
