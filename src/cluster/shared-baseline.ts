import type { Logger } from 'pino';
import type { Clock } from '../admission/clock.js';
import type { LimitedRegion, LimitedRuntime, LimitsPolicy } from './limits-policy.js';
import type { BaselineStore } from './redis-baseline.js';
import { startRounds } from './redis-client.js';

export interface SharedBaselineOptions {
  store: BaselineStore;
  keyPrefix: string;
  /** Monotonic: how fresh a reading is. */
  clock: Clock;
  /** Wall-clock milliseconds: the group counts its seconds on it, so it must agree across machines. */
  wallClock?: () => number;
  logger: Logger;
  /** How often each region's count is written and the group's reading fetched; 0 leaves it to the caller. */
  tickMs?: number;
}

const DEFAULT_TICK_MS = 500;
const SECOND_MS = 1000;

/**
 * One learned surge baseline per region for every gateway process that points at the same Redis.
 *
 * Every `tickMs` each process adds the requests its regions' own users offered since the last
 * round to the group's count for the current second, and reads back the group's baseline (an EWMA
 * over the group's seconds, folded once by whichever process comes first, see redis-baseline.ts)
 * and current rate. Each region's surge detector decides on that reading while it is fresh (see
 * surge-detector.ts), so all processes agree on what normal is, and one that starts, restarts or
 * joins during a surge sees it on its first round instead of learning it, or judging it by its
 * prior alone.
 *
 * A round that fails (Redis unreachable, or slower than the timeout) drops the reading at once:
 * each detector decides on the baseline it learned itself, which it kept learning all along, until
 * a later round succeeds. The requests counted meanwhile are not written later, so a store that
 * comes back is not handed a burst that never happened in one second. Seconds are counted on the
 * processes' wall clocks, which must agree within about a second (NTP does); a process whose clock
 * runs behind adds its counts to seconds already folded, and they reach only the current rate.
 */
export class SharedBaseline implements LimitsPolicy {
  private regions: ReadonlyMap<string, LimitedRegion> = new Map();
  private state: 'starting' | 'up' | 'down' = 'starting';
  private busy = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly wallClock: () => number;
  private readonly tickMs: number;

  constructor(private readonly options: SharedBaselineOptions) {
    this.wallClock = options.wallClock ?? Date.now;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
  }

  /** True while the baselines are shared through the store. */
  get up(): boolean {
    return this.state === 'up';
  }

  apply(runtime: LimitedRuntime): void {
    this.regions = runtime.regions;
  }

  /** Connects and takes the first reading, so the gateway serves knowing what the group has learned. */
  async start(): Promise<void> {
    this.timer = await startRounds({
      store: this.options.store,
      onDown: (err) => this.becomeDown(err),
      round: () => this.tick(),
      everyMs: this.tickMs,
      closed: () => this.closed,
    });
  }

  /** One round for every region; a round still running is not overtaken. */
  async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      const second = Math.floor(this.wallClock() / SECOND_MS);
      await Promise.all([...this.regions.values()].map((region) => this.exchange(region, second)));
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.options.store.close();
  }

  private async exchange(region: LimitedRegion, second: number): Promise<void> {
    const surge = region.admission.surge;
    const contribution = surge.contribution();
    try {
      const reading = await this.options.store.exchange({
        ...contribution,
        key: `${this.options.keyPrefix}:baseline:{${region.name}}`,
        second,
      });
      if (this.closed) return;
      surge.adoptShared(reading, this.options.clock());
      this.becomeUp();
    } catch (err) {
      surge.adoptShared(undefined, this.options.clock());
      this.becomeDown(err);
    }
  }

  private becomeUp(): void {
    if (this.state === 'up') return;
    const event = this.state === 'down' ? 'shared-baseline-restored' : 'shared-baseline-connected';
    this.state = 'up';
    this.options.logger.info({ event }, event);
  }

  private becomeDown(err: unknown): void {
    if (this.state === 'down' || this.closed) return;
    this.state = 'down';
    this.options.logger.warn(
      { event: 'shared-baseline-unavailable', error: err instanceof Error ? err.message : String(err) },
      'shared surge baseline unavailable: each region uses the baseline this process learned',
    );
  }
}
