import { describe, expect, it } from 'vitest';
import { type DrainTimers, drainPublicPort } from '../../../src/lifecycle/drain.js';

// The drain's order on a hand-moved clock: serve with closing answers for the delay, then stop
// accepting, sweep idle connections through the grace period, then cut what is left.

function fakeListener(log: string[]) {
  let closeAll: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    closeAll = resolve;
  });
  return {
    finishAll: () => closeAll(),
    listener: {
      preferNewConnections: () => log.push('prefer-new'),
      stopAccepting: () => {
        log.push('stop-accepting');
        return closed;
      },
      closeIdleConnections: () => log.push('close-idle'),
      destroyAllConnections: () => {
        log.push('destroy-all');
        closeAll();
      },
    },
  };
}

function fakeTimers(log: string[]) {
  let now = 0;
  const waits: { at: number; resolve: () => void }[] = [];
  const sweeps: { every: number; next: number; run: () => void; stopped: boolean }[] = [];
  const timers: DrainTimers = {
    wait(ms) {
      log.push(`wait ${ms}`);
      return new Promise((resolve) => waits.push({ at: now + ms, resolve }));
    },
    every(ms, run) {
      const sweep = { every: ms, next: now + ms, run, stopped: false };
      sweeps.push(sweep);
      return { stop: () => (sweep.stopped = true) };
    },
  };
  const advance = async (ms: number) => {
    const end = now + ms;
    while (now < end) {
      now += 1;
      for (const s of sweeps) {
        if (s.stopped || s.next > now) continue;
        s.next += s.every;
        s.run();
      }
      for (const w of waits.filter((w) => w.at <= now)) {
        waits.splice(waits.indexOf(w), 1);
        w.resolve();
      }
      await Promise.resolve();
      await Promise.resolve();
    }
  };
  return { timers, advance };
}

describe('drainPublicPort', () => {
  // The port keeps accepting for the whole delay; only then does it stop and sweep idle connections.
  it('keeps accepting for drainDelayMs, then drains and cuts after the grace period', async () => {
    const log: string[] = [];
    const { listener } = fakeListener(log);
    const { timers, advance } = fakeTimers(log);
    let cut = false;
    const done = drainPublicPort(listener, {
      delayMs: 1000,
      graceMs: 250,
      beforeCut: () => log.push('before-cut'),
      cutTunnels: () => (cut = true),
      timers,
    });
    await advance(999);
    expect(log).toEqual(['prefer-new', 'wait 1000']);
    await advance(1);
    expect(log).toEqual(['prefer-new', 'wait 1000', 'stop-accepting', 'close-idle', 'wait 250']);
    await advance(250);
    await done;
    expect(log.filter((e) => e === 'close-idle')).toHaveLength(3);
    // Announced first, so what the cut ends is logged as the shutdown's doing.
    expect(log.slice(-2)).toEqual(['before-cut', 'destroy-all']);
    expect(cut).toBe(true);
  });

  // Without a delay the drain starts at once; once every connection has closed it ends early.
  it('starts at once without a delay and ends when the connections are gone', async () => {
    const log: string[] = [];
    const { listener, finishAll } = fakeListener(log);
    const { timers, advance } = fakeTimers(log);
    const done = drainPublicPort(listener, {
      delayMs: 0,
      graceMs: 10_000,
      beforeCut: () => {},
      cutTunnels: () => {},
      timers,
    });
    await advance(1);
    expect(log.slice(0, 3)).toEqual(['prefer-new', 'stop-accepting', 'close-idle']);
    finishAll();
    await advance(1);
    await done;
    expect(log.filter((e) => e.startsWith('close-idle')).length).toBeLessThan(3);
  });
});
