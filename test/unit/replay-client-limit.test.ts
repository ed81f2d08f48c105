import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientLimiter } from '../../src/admission/client-limiter.js';
import { ClientReplay } from '../../src/replay/client-replay.js';
import { NO_ID } from '../../src/replay/interned-strings.js';

interface Step {
  client: number;
  advanceMs: number;
  /** The address comes as text, as one too long or not ASCII would. */
  asText: boolean;
}

const ADDRESSES = 10;
const address = (client: number) => `10.0.0.${client}`;

/** The decisions of the gateway's ClientLimiter and of ClientReplay over the same requests and clock. */
function decisions(steps: Step[], options: { rps: number; burst: number; maxKeys: number }, ids: number[]) {
  let now = 0;
  const clock = () => now;
  const limiter = new ClientLimiter(options, clock);
  const replay = new ClientReplay(options, clock, (id) => address(ids.indexOf(id)));
  const live: boolean[] = [];
  const replayed: boolean[] = [];
  for (const step of steps) {
    now += step.advanceMs;
    live.push(limiter.tryTake(address(step.client)));
    const fields = step.asText
      ? { client: address(step.client), clientId: NO_ID }
      : { client: undefined, clientId: ids[step.client]! };
    replayed.push(replay.tryTake(fields));
  }
  return { live, replayed, handedOver: replay.keyedByAddress };
}

const step = fc.record({
  client: fc.integer({ min: 0, max: ADDRESSES - 1 }),
  advanceMs: fc.integer({ min: 0, max: 60 }),
  asText: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
});
// Ids with gaps and in no particular order: they are handed out in read order, used in arrival order.
const ids = fc.shuffledSubarray(
  Array.from({ length: 3000 }, (_, i) => i),
  { minLength: ADDRESSES, maxLength: ADDRESSES },
);

describe('the client limit under replay', () => {
  it('decides as the gateway ClientLimiter does, before and after it has to forget clients', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 300 }),
        fc.record({
          // Slow refill and small buckets, so that a client forgotten too soon or too late shows.
          rps: fc.integer({ min: 1, max: 8 }),
          burst: fc.integer({ min: 1, max: 3 }),
          maxKeys: fc.integer({ min: 1, max: 12 }),
        }),
        ids,
        (steps, options, idTable) => {
          const { live, replayed } = decisions(steps, options, idTable);
          expect(replayed).toEqual(live);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('finds buckets by id while no client has to be forgotten, and keeps deciding the same after', () => {
    const steps: Step[] = Array.from({ length: 40 }, (_, i) => ({
      client: i % 4,
      advanceMs: 30,
      asText: false,
    }));
    const within = decisions(steps, { rps: 5, burst: 2, maxKeys: 4 }, [7, 3, 1000, 12]);
    expect(within.handedOver).toBe(false);
    expect(within.replayed).toEqual(within.live);
    expect(within.live).toContain(false);
    // A fifth client with room for four: the least recently used is forgotten, as the LRU does.
    const beyond = decisions(
      [...steps, { client: 4, advanceMs: 0, asText: false }, { client: 0, advanceMs: 0, asText: false }],
      { rps: 5, burst: 2, maxKeys: 4 },
      [7, 3, 1000, 12, 5],
    );
    expect(beyond.handedOver).toBe(true);
    expect(beyond.replayed).toEqual(beyond.live);
  });
});
