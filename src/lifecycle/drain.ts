import type { PublicListener } from '../http/public-server.js';

export interface DrainOptions {
  /** How long the port keeps accepting and serving after the drain began (`drainDelayMs`). */
  delayMs: number;
  /** How long requests in flight may then take (`shutdownGraceMs`). */
  graceMs: number;
  /**
   * Told just before what outlived the grace period is cut: the requests it ends are then logged
   * as cut by the shutdown, not as left by their clients, whose connections close the same way.
   */
  beforeCut(): void;
  /** Cuts what outlives the grace period beside the listener's connections (WebSocket tunnels). */
  cutTunnels(): void;
  /** Timers, injectable so the sequence can be tested on a fake clock. */
  timers?: DrainTimers;
}

export interface DrainTimers {
  wait(ms: number): Promise<void>;
  every(ms: number, run: () => void): { stop(): void };
}

export type Drainable = Pick<
  PublicListener,
  'preferNewConnections' | 'stopAccepting' | 'closeIdleConnections' | 'destroyAllConnections'
>;

const IDLE_SWEEP_MS = 100;

/**
 * The public port's shutdown, after readiness has turned 503:
 *
 * 1. For `delayMs` the port still accepts and serves, so a load balancer that polls `/readyz`
 *    (or has not polled yet) still finds it open; every answer closes its keep-alive connection
 *    and HTTP/2 sessions get GOAWAY, so clients reconnect, which the balancer sends elsewhere
 *    once it has noticed.
 * 2. No new connections; requests in flight finish while idle keep-alive connections are closed
 *    as they go quiet; whatever is still open after `graceMs` is cut.
 */
export async function drainPublicPort(listener: Drainable, options: DrainOptions): Promise<void> {
  const timers = options.timers ?? realTimers;
  listener.preferNewConnections();
  if (options.delayMs > 0) await timers.wait(options.delayMs);
  const closed = listener.stopAccepting();
  listener.closeIdleConnections();
  const sweep = timers.every(IDLE_SWEEP_MS, () => listener.closeIdleConnections());
  await Promise.race([closed, timers.wait(options.graceMs)]);
  sweep.stop();
  options.beforeCut();
  listener.destroyAllConnections();
  options.cutTunnels();
  await closed;
}

const realTimers: DrainTimers = {
  // Unref'd: a grace period that is no longer awaited must not hold the process open.
  wait: (ms) =>
    new Promise((resolve) => {
      setTimeout(resolve, ms).unref();
    }),
  every(ms, run) {
    const timer = setInterval(run, ms);
    return { stop: () => clearInterval(timer) };
  },
};
