import type { PublicRequest } from '../http/http2-request.js';

/** What a deadline tells when it passes. */
export interface TimedTrip {
  headersTimedOut(): void;
}

/**
 * `timeoutMs` for an answer's headers, to the millisecond. undici checks its own headersTimeout on
 * a clock that ticks about every half second, so 200 ms acted as a second, holding the region's
 * slot five times as long (it is still passed on, as a backstop). It counts as undici's does: from
 * when the request leaves (its connection included), again from each piece of its body, and again
 * once the body has ended, so a slow but steady upload is not a slow region while one that stops
 * still ends. It ends with the answer's headers or the trip, whichever comes first.
 */
export class HeadersDeadline {
  private timer: NodeJS.Timeout | undefined;
  private body: PublicRequest | undefined;
  /** Whether the request's body (when it has one) has been read to its end. */
  private uploaded = true;

  constructor(
    private readonly trip: TimedTrip,
    private readonly ms: number,
  ) {}

  start(body: PublicRequest | undefined): void {
    this.timer = setTimeout(passed, this.ms, this.trip);
    if (body === undefined) return;
    this.uploaded = false;
    this.body = body;
    // Paused first: a data listener would otherwise start the flow before undici is listening.
    body.pause();
    body.on('data', this.restart);
    body.once('end', this.ended);
  }

  /**
   * Whether an upload that has not ended waits on its client: its body flows and nothing of it is
   * left unread. A body undici paused, or one holding bytes it has not taken (piped on for HTTP/2,
   * a full pipe pauses it), waits on the upstream, which stopped reading.
   */
  waitingOnClient(): boolean {
    const body = this.body;
    return !this.uploaded && body !== undefined && !body.isPaused() && body.readableLength === 0;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.body?.removeListener('data', this.restart);
    this.body?.removeListener('end', this.ended);
  }

  private readonly restart = (): void => {
    this.timer?.refresh();
  };

  private readonly ended = (): void => {
    this.uploaded = true;
    this.timer?.refresh();
  };
}

// One callback for every timer, handed its trip, rather than a closure each.
function passed(trip: TimedTrip): void {
  trip.headersTimedOut();
}
