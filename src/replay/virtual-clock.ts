import type { Clock } from '../admission/clock.js';

/**
 * Replay's time: a clock that reads whatever the replay says it is, and the events that are due
 * on it (a request handing back its in-flight slot, a region's once-a-second tick).
 *
 * The algorithm. Requests come in arrival order. Before one is offered, every event due at or
 * before its arrival runs in time order, with the clock set to the event's own time; then the
 * clock moves to the arrival. Slots are released before a request arriving in the same
 * millisecond is offered, and ticks fire on every whole second of log time, as the live gateway's
 * timer would. The clock never runs backwards: a request that turns up later than its arrival (see
 * reorder-buffer.ts) is offered at the clock's current time.
 *
 * Why hand-written rather than a fake-timer library (@sinonjs/fake-timers, vitest's timers):
 * those replace the process's global timers, which would also stop the file streams the log is
 * read from; they schedule callbacks (one closure per request, millions of them) where replay needs
 * one number per release; and they run timers on `tick(ms)` calls, not interleaved with an input
 * that decides how far time moves next. The admission code only ever asks a `Clock` for the time,
 * so a field and a binary heap of release times are all the machinery replay needs.
 */
export class VirtualClock {
  private current: number;
  readonly read: Clock = () => this.current;

  constructor(start: number) {
    this.current = start;
  }

  get now(): number {
    return this.current;
  }

  /** Moves forward to `time`; an earlier time leaves the clock where it is. */
  advanceTo(time: number): void {
    if (time > this.current) this.current = time;
  }
}

export interface TimelineHandlers {
  /** A slot held by a request of region `owner` is due back. */
  release(owner: number): void;
  /** A whole second of log time has passed. */
  tick(): void;
}

const SECOND_MS = 1000;

/**
 * The events due on one virtual clock, run in time order up to a point. Release times live in a
 * binary min-heap over two typed arrays (time, owning region), which allocates nothing per request.
 */
export class Timeline {
  readonly clock: VirtualClock;
  private readonly handlers: TimelineHandlers;
  private times = new Float64Array(1024);
  private owners = new Int32Array(1024);
  private size = 0;
  private nextTick: number;

  constructor(clock: VirtualClock, handlers: TimelineHandlers) {
    this.clock = clock;
    this.handlers = handlers;
    this.nextTick = (Math.floor(clock.now / SECOND_MS) + 1) * SECOND_MS;
  }

  get pendingReleases(): number {
    return this.size;
  }

  /** Schedules a slot of region `owner` to come back at `time`. */
  releaseAt(time: number, owner: number): void {
    if (this.size === this.times.length) this.grow();
    let i = this.size++;
    const times = this.times;
    const owners = this.owners;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= time) break;
      times[i] = times[parent]!;
      owners[i] = owners[parent]!;
      i = parent;
    }
    times[i] = time;
    owners[i] = owner;
  }

  /** Runs every release and tick due at or before `time`, in order, then moves the clock to `time`. */
  runUntil(time: number): void {
    for (;;) {
      const release = this.size > 0 ? this.times[0]! : Number.POSITIVE_INFINITY;
      if (release <= this.nextTick) {
        if (release > time) break;
        this.clock.advanceTo(release);
        this.handlers.release(this.popOwner());
      } else {
        if (this.nextTick > time) break;
        this.clock.advanceTo(this.nextTick);
        this.nextTick += SECOND_MS;
        this.handlers.tick();
      }
    }
    this.clock.advanceTo(time);
  }

  private popOwner(): number {
    const times = this.times;
    const owners = this.owners;
    const owner = owners[0]!;
    const last = --this.size;
    const time = times[last]!;
    const lastOwner = owners[last]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && times[child + 1]! < times[child]!) child++;
      if (times[child]! >= time) break;
      times[i] = times[child]!;
      owners[i] = owners[child]!;
      i = child;
    }
    times[i] = time;
    owners[i] = lastOwner;
    return owner;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    const owners = new Int32Array(this.owners.length * 2);
    times.set(this.times);
    owners.set(this.owners);
    this.times = times;
    this.owners = owners;
  }
}
