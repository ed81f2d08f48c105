import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../../src/replay/reorder-buffer.js';
import type { ReadRequest } from '../../src/replay/replay-request.js';
import { Timeline, VirtualClock } from '../../src/replay/virtual-clock.js';

function record(arrival: number, durationMs: number, seq: number): ReadRequest {
  return {
    arrival,
    end: arrival + durationMs,
    durationMs,
    home: 0,
    ranks: 0,
    client: undefined,
    clientId: -1,
    route: 0,
    seq,
  };
}

/**
 * Feeds the records one line at a time, as the driver does, then lets out the rest: the read order
 * of what came out, and how many were late.
 */
function fedInTurn(longestMs: number, records: ReadRequest[]): { out: number[]; late: number } {
  const buffer = new ReorderBuffer(longestMs, 0);
  const out: number[] = [];
  for (const r of records) {
    buffer.push(r);
    buffer.readThrough(r.end);
    buffer.drain((x) => out.push(x.seq));
  }
  buffer.drainAll((x) => out.push(x.seq));
  return { out, late: buffer.late };
}

describe('ReorderBuffer', () => {
  // Records fed in end order come out in arrival order (ties in read order), holding only the window's worth.
  it('restores arrival order with bounded memory', () => {
    const buffer = new ReorderBuffer(100, 0);
    const out: number[] = [];
    const ends: ReadRequest[] = [];
    for (let i = 0; i < 1000; i++) ends.push(record(i * 10, (i * 37) % 100, i));
    ends.sort((a, b) => a.end - b.end);
    for (const r of ends) {
      buffer.push(r);
      buffer.readThrough(r.end);
      buffer.drain((x) => out.push(x.arrival));
    }
    buffer.drainAll((x) => out.push(x.arrival));
    expect(out).toEqual(ends.map((r) => r.arrival).sort((a, b) => a - b));
    // 100 ms of traffic at one request per 10 ms, and the few that end within it.
    expect(buffer.peak).toBeLessThanOrEqual(22);
    expect(buffer.late).toBe(0);
  });

  // Requests far beyond the ring's span (a sparse log read a chunk at a time) wait aside and come out in order.
  it('orders requests spread far wider than its ring', () => {
    const buffer = new ReorderBuffer(10, 0);
    const arrivals = [0, 3_600_000, 5000, 86_400_000, 5000.5, 7, 3_600_000.25];
    for (const [seq, arrival] of arrivals.entries()) buffer.push(record(arrival, 1, seq));
    const out: number[] = [];
    buffer.readThrough(3_600_000);
    buffer.drain((r) => out.push(r.arrival));
    expect(out).toEqual([0, 7, 5000, 5000.5]);
    buffer.drainAll((r) => out.push(r.arrival));
    expect(out).toEqual([...arrivals].sort((a, b) => a - b));
    expect(buffer.size).toBe(0);
  });

  // Requests arriving in the same millisecond keep their read order.
  it('keeps read order for equal arrivals', () => {
    const buffer = new ReorderBuffer(0, 0);
    for (const seq of [0, 1, 2]) buffer.push(record(5, 1, seq));
    const out: number[] = [];
    buffer.drainAll((r) => out.push(r.seq));
    expect(out).toEqual([0, 1, 2]);
  });

  // Read order is kept in 32 bits: ties stay in read order where it passes 2^31, in a batch of many.
  it('keeps read order for equal arrivals across 2^31 lines read', () => {
    const buffer = new ReorderBuffer(0, 0);
    const first = 2 ** 31 - 100;
    // Pushed in an order unlike read order, so the buffer has to sort them.
    const seqs = Array.from({ length: 200 }, (_, i) => first + ((i * 37) % 200));
    for (const seq of seqs) buffer.push(record(5, 1, seq));
    const out: number[] = [];
    buffer.drainAll((r) => out.push(r.seq));
    expect(out).toEqual(Array.from({ length: 200 }, (_, i) => (first + i) | 0));
  });

  // A request longer than the window is still replayed, counted as late, and widens the window.
  it('counts a request that outlasted the window as late', () => {
    const { out, late } = fedInTurn(100, [
      record(0, 1, 0),
      record(500, 1, 1),
      record(700, 1, 2),
      // Arrived at 100 but ends at 800: 500 has been let out by then.
      record(100, 700, 3),
    ]);
    expect(late).toBe(1);
    expect(out).toEqual([0, 1, 3, 2]);
  });

  // Nothing before them has been let out: a request that started before the first one read (or the
  // first after a quiet stretch) but ended after it is in time, not late.
  it('takes earlier arrivals read after the first one, at the start and after a quiet stretch', () => {
    const { out, late } = fedInTurn(100, [
      record(50, 10, 0),
      record(20, 45, 1),
      // Everything has been let out by 10,000; the next lines come after a long gap.
      record(10_000, 5, 2),
      record(9_950, 60, 3),
      record(9_990, 30, 4),
    ]);
    expect(late).toBe(0);
    expect(out).toEqual([1, 0, 3, 4, 2]);
  });
});

describe('Timeline', () => {
  // Releases and ticks run in time order, each with the clock at its own time; releases go before a tick at the same ms.
  it('runs releases and ticks in order up to a time', () => {
    const clock = new VirtualClock(10_500);
    const seen: string[] = [];
    const timeline = new Timeline(clock, {
      release: (owner) => seen.push(`release ${owner} at ${clock.now}`),
      tick: () => seen.push(`tick at ${clock.now}`),
    });
    timeline.releaseAt(12_000, 2);
    timeline.releaseAt(10_700, 1);
    timeline.releaseAt(11_000, 3);
    timeline.runUntil(11_999);
    expect(seen).toEqual(['release 1 at 10700', 'release 3 at 11000', 'tick at 11000']);
    expect(clock.now).toBe(11_999);
    timeline.runUntil(12_000);
    expect(seen.slice(3)).toEqual(['release 2 at 12000', 'tick at 12000']);
    expect(timeline.pendingReleases).toBe(0);
  });

  // The heap grows past its first size and still releases in time order; the clock never runs backwards.
  it('orders many releases and never moves the clock back', () => {
    const clock = new VirtualClock(0);
    const released: number[] = [];
    const timeline = new Timeline(clock, { release: () => released.push(clock.now), tick: () => {} });
    for (let i = 0; i < 5000; i++) timeline.releaseAt((i * 7919) % 5000, i);
    timeline.runUntil(10_000);
    expect(released).toEqual([...released].sort((a, b) => a - b));
    expect(released).toHaveLength(5000);
    timeline.runUntil(5);
    expect(clock.now).toBe(10_000);
  });
});
