import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BreakerState, breakerStateCode } from '../../src/domain.js';
import { type BreakerOptions, RegionBreaker } from '../../src/upstream/breaker.js';

const OPTIONS: BreakerOptions = {
  errorThresholdPercentage: 50,
  volumeThreshold: 4,
  windowMs: 10_000,
  resetTimeoutMs: 5_000,
};

let breaker: RegionBreaker;
let transitions: BreakerState[];

// setImmediate stays real so tests can let opossum's promise callbacks run.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  transitions = [];
  breaker = new RegionBreaker(OPTIONS, (state) => transitions.push(state));
});

afterEach(() => {
  breaker.shutdown();
  vi.useRealTimers();
});

/** Lets opossum see settled calls: it learns of them through promise callbacks. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function record(outcomes: string): Promise<void> {
  for (const outcome of outcomes) {
    const call = breaker.begin();
    if (call === null) throw new Error('breaker refused a call');
    if (outcome === 'F') call.fail();
    else call.succeed();
    await settle();
  }
}

async function openBreaker(): Promise<void> {
  await record('FFFF');
  expect(breaker.state).toBe('open');
}

describe('RegionBreaker', () => {
  it('opens once the error rate exceeds the threshold after the volume threshold is reached', async () => {
    // Verifies: failures below volumeThreshold never open it; the call that reaches it does.
    await record('FFF');
    expect(breaker.state).toBe('closed');
    await record('F');
    expect(breaker.state).toBe('open');
    expect(breakerStateCode(breaker.state)).toBe(2);
    expect(breaker.begin()).toBeNull();
    expect(breaker.allowsRequest).toBe(false);
  });

  it('stays closed while the error rate is at or below the threshold', async () => {
    // Verifies: the threshold is a strict "more than" percentage of the calls in the window.
    await record('SSFF');
    expect(breaker.state).toBe('closed');
    await record('F');
    expect(breaker.state).toBe('open');
  });

  it('forgets failures that have left the rolling window', async () => {
    // Verifies: failures spread over more than windowMs never reach the volume threshold together.
    await record('FFF');
    vi.advanceTimersByTime(OPTIONS.windowMs + 1_000);
    await record('FFF');
    expect(breaker.state).toBe('closed');
    await record('F');
    expect(breaker.state).toBe('open');
  });

  it('goes half-open after the reset timeout and lets exactly one probe through', async () => {
    // Verifies: open for resetTimeoutMs, then half-open with a single probe; stateCode follows.
    await openBreaker();
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs - 1);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breaker.state).toBe('half-open');
    expect(breakerStateCode(breaker.state)).toBe(1);
    expect(breaker.allowsRequest).toBe(true);
    const probe = breaker.begin();
    expect(probe).not.toBeNull();
    expect(breaker.begin()).toBeNull();
    expect(breaker.allowsRequest).toBe(false);
  });

  it('closes when the probe succeeds', async () => {
    // Verifies: a successful probe closes the breaker and the callback saw open, half-open, closed.
    await openBreaker();
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs);
    breaker.begin()!.succeed();
    await settle();
    expect(breaker.state).toBe('closed');
    expect(breakerStateCode(breaker.state)).toBe(0);
    expect(transitions).toEqual(['open', 'half-open', 'closed']);
    expect(breaker.begin()).not.toBeNull();
    expect(breaker.begin()).not.toBeNull();
  });

  it('re-opens when the probe fails and tries again after another reset timeout', async () => {
    // Verifies: a failed probe re-opens at once, restarting the reset timeout.
    await openBreaker();
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs);
    breaker.begin()!.fail();
    await settle();
    expect(breaker.state).toBe('open');
    expect(breaker.begin()).toBeNull();
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs);
    expect(breaker.state).toBe('half-open');
    expect(transitions).toEqual(['open', 'half-open', 'open', 'half-open']);
  });

  it('counts each call once however often it is settled', async () => {
    // Verifies: later succeed()/fail() calls on a settled call are ignored.
    const calls = [breaker.begin()!, breaker.begin()!, breaker.begin()!, breaker.begin()!];
    calls[0]!.fail();
    calls[0]!.fail();
    calls[0]!.fail();
    calls[1]!.succeed();
    calls[1]!.fail();
    calls[2]!.fail();
    await settle();
    expect(breaker.state).toBe('closed');
    calls[3]!.fail();
    await settle();
    expect(breaker.state).toBe('open');
  });

  it('ignores a result that began before the breaker opened', async () => {
    // Verifies: in half-open, only the probe decides; a stale success neither closes nor re-arms.
    const stale = breaker.begin()!;
    const staleFailure = breaker.begin()!;
    // The two calls in flight already count towards the volume threshold.
    await record('FFF');
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs);
    const probe = breaker.begin()!;
    stale.succeed();
    staleFailure.fail();
    await settle();
    expect(breaker.state).toBe('half-open');
    probe.succeed();
    await settle();
    expect(breaker.state).toBe('closed');
  });

  it('lets another request probe when the probe is cancelled', async () => {
    // Verifies: cancel() on the probe neither closes nor re-opens, and frees the probe slot.
    await openBreaker();
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs);
    const probe = breaker.begin()!;
    expect(breaker.begin()).toBeNull();
    probe.cancel();
    await settle();
    expect(breaker.state).toBe('half-open');
    const second = breaker.begin();
    expect(second).not.toBeNull();
    expect(breaker.begin()).toBeNull();
    second!.fail();
    await settle();
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual(['open', 'half-open', 'open']);
  });

  it('does not count a cancelled call as a failure', async () => {
    // Verifies: cancelled calls never push the error rate up.
    await record('FF');
    for (let i = 0; i < 10; i++) breaker.begin()!.cancel();
    await settle();
    await record('FF');
    expect(breaker.state).toBe('closed');
  });

  it('applies a new threshold in place, keeping the counts in the window', async () => {
    // Verifies: reconfigure with the same window keeps earlier calls and uses the new percentage.
    await record('SS');
    breaker.reconfigure({ ...OPTIONS, errorThresholdPercentage: 80 });
    await record('FFFFFFFF');
    expect(breaker.state).toBe('closed');
    await record('F');
    expect(breaker.state).toBe('open');
  });

  it('keeps an open breaker open when the window changes', async () => {
    // Verifies: reconfigure that rebuilds opossum keeps the open state and still reaches half-open.
    await openBreaker();
    breaker.reconfigure({ ...OPTIONS, windowMs: 20_000, volumeThreshold: 2 });
    expect(breaker.state).toBe('open');
    expect(breaker.begin()).toBeNull();
    vi.advanceTimersByTime(OPTIONS.resetTimeoutMs);
    expect(breaker.state).toBe('half-open');
    expect(transitions).toEqual(['open', 'half-open']);
  });

  // An operator shortening the reset during an incident expects it counted from the opening.
  it('counts a new reset timeout of an open breaker from when it opened', async () => {
    await openBreaker();
    vi.advanceTimersByTime(2_000);
    breaker.reconfigure({ ...OPTIONS, resetTimeoutMs: 3_000 });
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(999);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breaker.state).toBe('half-open');
    // A failed probe opens it again, for the whole new timeout.
    await record('F');
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(2_999);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breaker.state).toBe('half-open');
    // Already past: half-open at once.
    breaker.shutdown();
    breaker = new RegionBreaker(OPTIONS, (state) => transitions.push(state));
    await openBreaker();
    vi.advanceTimersByTime(2_000);
    breaker.reconfigure({ ...OPTIONS, resetTimeoutMs: 1_000 });
    expect(breaker.state).toBe('half-open');
  });

  it('uses the new volume threshold after a rebuild', async () => {
    // Verifies: a lower volumeThreshold takes effect after reconfigure.
    breaker.reconfigure({ ...OPTIONS, volumeThreshold: 2 });
    await record('FF');
    expect(breaker.state).toBe('open');
  });

  it('clears its timers on shutdown and hands out nothing afterwards', async () => {
    // Verifies: shutdown leaves no pending opossum timers behind.
    await openBreaker();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    breaker.shutdown();
    expect(vi.getTimerCount()).toBe(0);
    expect(breaker.begin()).toBeNull();
  });
});
