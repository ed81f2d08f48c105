import { PRIORITIES } from '../admission/priority.js';
import type { RegionAdmission } from '../admission/region-admission.js';

/**
 * How one gateway process draws a region's tokens from the bucket shared in Redis.
 *
 * The shared bucket refills at the region's `rps` up to its `burst`, exactly like a local bucket.
 * Each process keeps a small local bucket that the clock does not refill: it holds what the process
 * leased, `leaseSize` tokens at a time, up to `LEASES_HELD` leases. A background loop tops it up
 * whenever there is room for a whole lease, so requests spend local tokens and never wait on Redis.
 *
 * Every token admitted was first taken from the shared bucket, so the group as a whole never
 * admits more than `rps * seconds + burst` while Redis answers. Over a window shorter than the
 * whole run, tokens leased just before the window may be spent inside it: at most one local
 * capacity (`LEASES_HELD * leaseSize`) per process on top of the single-bucket bound.
 *
 * Priorities across processes: a lease asks Redis to leave behind the floor of the least important
 * priority the local fill can currently serve, scaled to the shared burst. A process whose low
 * traffic drained it only gets tokens while the shared bucket is more than half full (with the
 * default reserves); one whose critical traffic drained it gets them down to the last token. So
 * under overload, low traffic anywhere in the group is shed before critical traffic anywhere.
 */

/** Local capacity in leases: room for one lease while three are still held, so a lease in flight never leaves the process dry. */
export const LEASES_HELD = 4;
/** Leases sized for 1/50 s of the whole region's rate keep Redis at about 50 leases a second per busy region. */
const LEASES_PER_SECOND = 50;
/** By default one process holds at most 1/4 of the shared burst. */
const LOCAL_SHARE_OF_BURST = 4;

/**
 * Tokens per lease: the configured size (at most the burst), else 1/50 of the rate, held to a size
 * whose local capacity is at most a quarter of the burst. Without that cap a few processes would
 * hold the whole shared burst between them, and the others would shed while it sits unused.
 */
export function leaseSize(rps: number, burst: number, configured: number | undefined): number {
  const wanted =
    configured === undefined
      ? Math.min(Math.ceil(rps / LEASES_PER_SECOND), Math.floor(burst / (LOCAL_SHARE_OF_BURST * LEASES_HELD)))
      : Math.min(configured, Math.floor(burst));
  return Math.max(1, wanted);
}

/** The largest number of leased tokens one process holds for a region. */
export function localCapacity(lease: number): number {
  return lease * LEASES_HELD;
}

/** How many tokens to ask for now: a whole lease when it fits in the room left, else none. */
export function tokensWanted(tokens: number, capacity: number, lease: number): number {
  return capacity - tokens >= lease ? lease : 0;
}

/**
 * The shared-bucket fill a lease must leave behind: the floor of the least important priority
 * that the local fill currently serves, as a fraction of the local size, applied to the shared
 * burst. With an empty local bucket that is critical's floor, zero.
 */
export function leaseFloor(admission: RegionAdmission, tokens: number, sharedBurst: number): number {
  const localSize = admission.bucket.burst;
  let fraction = 0;
  for (const priority of PRIORITIES) {
    const floor = admission.tokenFloor(priority);
    if (floor <= tokens) fraction = floor / localSize;
  }
  return fraction * sharedBurst;
}
