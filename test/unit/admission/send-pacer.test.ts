import { describe, expect, it } from 'vitest';
import { SendPacer } from '../../../src/admission/send-pacer.js';

describe('SendPacer', () => {
  it('lets a pair go at once and spreads the rest of a burst at the refill pace', () => {
    const pacer = new SendPacer(1, 250);
    // 30 per second: one turn every 33.3 ms. Six requests admitted in the same millisecond.
    const waits = Array.from({ length: 6 }, () => pacer.wait(1000, 30));
    expect(waits.map((w) => Math.round(w))).toEqual([0, 0, 33, 67, 100, 133]);
  });

  // capacity.paceMaxWaitMs: 0 sends every admitted request at once; a reload may turn pacing on.
  it('sends a whole burst at once with no wait allowed, and paces once one is', () => {
    const pacer = new SendPacer(1, 0);
    expect(Array.from({ length: 6 }, () => pacer.wait(1000, 30))).toEqual([0, 0, 0, 0, 0, 0]);
    pacer.maxWaitMs = 250;
    const waits = Array.from({ length: 6 }, () => pacer.wait(5000, 30));
    expect(waits.map((w) => Math.round(w))).toEqual([0, 0, 33, 67, 100, 133]);
  });

  it('never delays traffic that keeps to the pace', () => {
    const pacer = new SendPacer(1, 250);
    for (let t = 0; t < 10_000; t += 40) expect(pacer.wait(t, 30)).toBe(0);
  });

  it('never delays traffic no burstier than the tolerance', () => {
    // Pairs every 100 ms at 30 per second (20 per second offered): each pair fits the tolerance.
    const pacer = new SendPacer(1, 250);
    for (let t = 0; t < 10_000; t += 100) {
      expect(pacer.wait(t, 30)).toBe(0);
      expect(pacer.wait(t, 30)).toBe(0);
    }
  });

  it('forgets a burst once its turns have passed', () => {
    const pacer = new SendPacer(1, 250);
    for (let i = 0; i < 6; i++) pacer.wait(0, 30);
    expect(pacer.wait(300, 30)).toBe(0);
    expect(pacer.wait(300, 30)).toBe(0);
  });

  it('caps every wait, and a capped run leaves no debt behind', () => {
    // 2 per second with a burst of 60: pacing it whole would hold the last request 30 s.
    const pacer = new SendPacer(1, 250);
    const waits = Array.from({ length: 60 }, () => pacer.wait(0, 2));
    expect(Math.max(...waits)).toBe(250);
    expect(waits.filter((w) => w === 0).length).toBe(2);
    // Two seconds later the schedule is clear again.
    expect(pacer.wait(2000, 2)).toBe(0);
  });

  it('drains the backlog of a burst under a flood only when it paces faster than the refill', () => {
    // A burst of 6, then one admission per refill interval (a flood keeping the bucket empty).
    const lastWait = (paceRps: number) => {
      const pacer = new SendPacer(1, 250);
      for (let i = 0; i < 6; i++) pacer.wait(0, paceRps);
      let wait = 0;
      for (let t = 1000 / 30; t < 3000; t += 1000 / 30) wait = pacer.wait(t, paceRps);
      return wait;
    };
    // At exactly the refill rate the burst stays queued ahead of every later request.
    expect(lastWait(30)).toBeGreaterThan(100);
    // A little faster (rps sized at 90% of what the backend sustains) and it is gone within 3 s.
    expect(lastWait(30 / 0.9)).toBe(0);
  });

  it('is not thrown by a clock that steps back', () => {
    const pacer = new SendPacer(1, 250);
    for (let i = 0; i < 20; i++) pacer.wait(10_000, 30);
    expect(pacer.wait(0, 30)).toBeLessThanOrEqual(250);
  });

  it('paces nothing without a rate', () => {
    const pacer = new SendPacer(1, 250);
    for (let i = 0; i < 10; i++) expect(pacer.wait(0, 0)).toBe(0);
  });

  it('spreads admissions over any window at no more than the pace plus the tolerance', () => {
    const pacer = new SendPacer(1, 250);
    const sends: number[] = [];
    // Bursts of 5 every 150 ms: 33 per second offered against a pace of 30.
    for (let t = 0; t < 3000; t += 150) {
      for (let i = 0; i < 5; i++) sends.push(t + pacer.wait(t, 30));
    }
    sends.sort((a, b) => a - b);
    for (let i = 0; i < sends.length; i++) {
      const within = sends.filter((s) => s >= sends[i]! && s < sends[i]! + 100).length;
      // 100 ms at 30 per second is 3 turns, plus the tolerance and the turn at the window's start.
      expect(within).toBeLessThanOrEqual(3 + 1 + 1);
    }
  });

  // Issue 14: failover shares the region's one schedule, so the two together never reach the backend
  // faster than the pace; it takes only the turns own requests leave free, never booking a later one.
  it("gives failover only free turns, and never pushes the region's own requests back", () => {
    const pacer = new SendPacer(1, 250);
    // Four failover requests at once: two free turns (the pair), then a wait nobody books.
    const failover = Array.from({ length: 4 }, () => pacer.spareTurn(1000, 30, false));
    expect(failover.map((w) => Math.round(w))).toEqual([0, 0, 33, 33]);
    // An own request arriving right after queues behind the two that went, not behind four.
    expect(Math.round(pacer.wait(1000, 30))).toBe(33);
    // Once its turn has passed, a free turn is there again for the failover request that waited.
    expect(pacer.spareTurn(1034, 30, false)).toBeGreaterThan(0);
    expect(pacer.spareTurn(1067, 30, false)).toBe(0);
  });

  it('lets failover and own requests together leave no faster than one schedule allows', () => {
    const pacer = new SendPacer(1, 250);
    const sends: number[] = [];
    const waiting: number[] = [];
    // Own requests in bursts of 3 every 200 ms, failover in bursts of 3 every 300 ms (25 a second
    // in all against a pace of 30); failover asks again every millisecond.
    for (let t = 0; t < 3000; t++) {
      if (t % 200 === 0) for (let i = 0; i < 3; i++) sends.push(t + pacer.wait(t, 30));
      if (t % 300 === 0) waiting.push(t, t, t);
      for (let i = 0; i < waiting.length; i++) {
        if (pacer.spareTurn(t, 30, t - waiting[i]! >= 250) > 0) continue;
        sends.push(t);
        waiting.splice(i--, 1);
      }
    }
    sends.sort((a, b) => a - b);
    for (let i = 0; i < sends.length; i++) {
      const within = sends.filter((s) => s >= sends[i]! && s < sends[i]! + 100).length;
      expect(within).toBeLessThanOrEqual(3 + 1 + 1);
    }
  });

  it('takes a turn for a failover request that has waited its longest, and none with pacing off', () => {
    const pacer = new SendPacer(1, 250);
    for (let i = 0; i < 6; i++) pacer.wait(0, 30);
    expect(pacer.spareTurn(0, 30, true)).toBe(0);
    // The forced turn was booked: the next own request queues behind it too.
    expect(Math.round(pacer.wait(0, 30))).toBe(200);
    const off = new SendPacer(1, 0);
    for (let i = 0; i < 6; i++) expect(off.spareTurn(0, 30, false)).toBe(0);
  });

  // A client that leaves while its request waits gives the turn back: the next request takes it.
  it('gives a turn back to the next request when a waiting request will not leave', () => {
    const pacer = new SendPacer(1, 250);
    const waits = Array.from({ length: 4 }, () => pacer.wait(1000, 30));
    expect(waits.map((w) => Math.round(w))).toEqual([0, 0, 33, 67]);
    // The one at +67 ms leaves at +10 ms: the next request takes that turn, where without the
    // give-back it would queue behind it (at +100 ms).
    pacer.giveBack(1010, 30);
    expect(Math.round(pacer.wait(1010, 30))).toBe(57);
    // Giving back never moves the schedule into the past.
    const quiet = new SendPacer(1, 250);
    quiet.wait(0, 30);
    quiet.giveBack(5000, 30);
    quiet.giveBack(5000, 30);
    expect([quiet.wait(5000, 30), quiet.wait(5000, 30), Math.round(quiet.wait(5000, 30))]).toEqual([
      0, 0, 33,
    ]);
  });
});
