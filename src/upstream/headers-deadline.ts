import type { PublicRequest } from '../http/http2-request.js';

/** What a deadline tells when it passes. */
export interface TimedTrip {
  headersTimedOut(): void;
}

/**
 * `timeoutMs` for an answer's headers, to the millisecond. undici checks its own headersTimeout on
 * a clock that ticks about every half second, so 200 ms acted as a second, holding the region's
 * slot five times as long (it is still passed on, as a backstop). Like undici's, it starts once the
 * upstream has the whole request: a client uploading slowly is not a slow region, and must not open
 * its breaker. It ends with the answer's headers or the trip, whichever comes first, armed or not.
 */
export class HeadersDeadline {
  private timer: NodeJS.Timeout | undefined;
  private body: PublicRequest | undefined;

  constructor(
    private readonly trip: TimedTrip,
    private readonly ms: number,
  ) {}

  /** Counts from now, or, for a request with a body, from when it has been read to its end. */
  start(body: PublicRequest | undefined): void {
    if (body === undefined) return this.arm();
    this.body = body;
    body.once('end', this.arm);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.body?.removeListener('end', this.arm);
  }

  private readonly arm = (): void => {
    this.timer = setTimeout(passed, this.ms, this.trip);
  };
}

// One callback for every timer, handed its trip, rather than a closure each.
function passed(trip: TimedTrip): void {
  trip.headersTimedOut();
}
