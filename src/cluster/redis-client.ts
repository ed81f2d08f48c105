import { Redis } from 'ioredis';

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
