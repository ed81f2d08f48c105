/**
 * One region's circuit breaker: opossum 9 behind a small interface, so nothing else depends on
 * opossum's events or its promise-shaped API.
 *
 * The request path asks `begin()` for permission; a non-null answer is a call it must settle
 * exactly once. opossum decides everything else: it opens when more than
 * `errorThresholdPercentage` of the calls in its rolling window failed (once at least
 * `volumeThreshold` calls were made), goes half-open after `resetTimeoutMs`, lets exactly one
 * probe through, closes when the probe succeeds and re-opens when it fails.
 *
 * Two refinements over plain opossum:
 * - Results of calls that began before the breaker last opened are dropped. They describe the
 *   upstream as it was, and in half-open opossum would let any of them close or re-open the breaker
 *   in place of the probe.
 * - `cancel()` (our own shed, a client abort) counts nothing. opossum has no neutral outcome, so a
 *   cancelled call is settled as a success, which adds nothing to the error rate because opossum
 *   already counted the call when it began. A cancelled probe is the exception: a success would
 *   close the breaker without evidence, so a fresh opossum instance takes over in half-open and the
 *   next request becomes the probe.
 *
 * opossum reads `Date.now()` and runs its own timers, so its tests use global fake timers.
 */
import CircuitBreaker from 'opossum';
import type { BreakerState } from '../domain.js';

export interface BreakerOptions {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  windowMs: number;
  resetTimeoutMs: number;
}

export interface BreakerCall {
  /** Any upstream response below 500. */
  succeed(): void;
  /** An upstream 5xx, a timeout or a connection error. */
  fail(): void;
  /** Neither: the request was shed by us or abandoned by its client. */
  cancel(): void;
}

/** opossum's constructor accepts a snapshot of an earlier breaker's state; its type package omits it. */
interface OpossumInitialState {
  closed: boolean;
  halfOpen: boolean;
  lastTimerAt?: number;
}

type CircuitOptions = CircuitBreaker.Options<[Attempt]> & { state?: OpossumInitialState };

const MAX_ROLLING_BUCKETS = 10;

// Shared so a failing call allocates nothing extra; opossum only passes it back to our own no-op.
const UPSTREAM_FAILURE = new Error('upstream failure');
const ignoreRejection = (): void => {};

// A Promise executor that stores its resolvers here avoids allocating a closure per call.
let capturedResolve: (() => void) | undefined;
let capturedReject: ((reason: Error) => void) | undefined;
function captureResolvers(resolve: () => void, reject: (reason: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

class Attempt implements BreakerCall {
  readonly outcome: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (reason: Error) => void;
  settled = false;

  constructor(
    private readonly breaker: RegionBreaker,
    readonly epoch: number,
    readonly probe: boolean,
  ) {
    this.outcome = new Promise<void>(captureResolvers);
    this.resolve = capturedResolve!;
    this.reject = capturedReject!;
  }

  succeed(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.breaker.isCurrent(this)) this.resolve();
  }

  fail(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.breaker.isCurrent(this)) this.reject(UPSTREAM_FAILURE);
  }

  cancel(): void {
    if (this.settled) return;
    this.settled = true;
    if (!this.breaker.isCurrent(this)) return;
    if (this.probe) this.breaker.rearmProbe();
    else this.resolve();
  }
}

function runAttempt(attempt: Attempt): Promise<void> {
  return attempt.outcome;
}

export class RegionBreaker {
  private options: BreakerOptions;
  private circuitOptions!: CircuitOptions;
  private circuit!: CircuitBreaker<[Attempt], void>;
  private current: BreakerState = 'closed';
  // Bumped whenever earlier calls stop being evidence: on every open and every rebuild.
  private epoch = 0;
  private openedAt = 0;
  private stopped = false;

  constructor(
    opts: BreakerOptions,
    private readonly onStateChange: (state: BreakerState) => void,
  ) {
    this.options = { ...opts };
    this.circuit = this.createCircuit(undefined);
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether `begin()` would hand out a call now, without claiming the half-open probe. */
  get allowsRequest(): boolean {
    return !this.stopped && (this.circuit.closed || this.circuit.pendingClose);
  }

  /**
   * null when no request may be sent now (open, or half-open with its probe already out).
   * Otherwise the caller must settle the returned call exactly once.
   */
  begin(): BreakerCall | null {
    const circuit = this.circuit;
    if (this.stopped || !(circuit.closed || circuit.pendingClose)) return null;
    const attempt = new Attempt(this, this.epoch, !circuit.closed);
    circuit.fire(attempt).catch(ignoreRejection);
    return attempt;
  }

  /** Opens the breaker now; the usual reset timeout leads to half-open. */
  forceOpen(): void {
    if (!this.stopped) this.circuit.open();
  }

  /**
   * Applies new options and keeps the state. A new threshold or reset timeout applies in place; a
   * new window or volume threshold needs a fresh opossum instance, which forgets the window's counts,
   * and an open breaker then waits a full reset timeout again unless its old one has already run out.
   */
  reconfigure(opts: BreakerOptions): void {
    const previous = this.options;
    this.options = { ...opts };
    if (opts.windowMs === previous.windowMs && opts.volumeThreshold === previous.volumeThreshold) {
      // opossum reads both of these from its options object each time it needs them.
      this.circuitOptions.errorThresholdPercentage = opts.errorThresholdPercentage;
      this.circuitOptions.resetTimeout = opts.resetTimeoutMs;
      // An open breaker's reset timer was armed with the old timeout (see rebuild).
      if (this.current === 'open' && opts.resetTimeoutMs !== previous.resetTimeoutMs) this.rebuild();
      return;
    }
    this.rebuild();
  }

  /** Clears opossum's timers; afterwards no call is handed out. */
  shutdown(): void {
    this.stopped = true;
    this.circuit.shutdown();
  }

  /** False for calls that began before the breaker last opened or was rebuilt. */
  isCurrent(attempt: Attempt): boolean {
    return attempt.epoch === this.epoch;
  }

  /** Lets the next request probe again after the probe in flight was cancelled. */
  rearmProbe(): void {
    if (this.circuit.halfOpen && !this.stopped) this.rebuild();
  }

  private rebuild(): void {
    const before = this.current;
    const previous = this.circuit;
    this.epoch++;
    // opossum arms a breaker built open with a whole reset timeout: this one gets what is left of
    // its own, counted from when it opened, so a reload that shortens the reset shortens it now.
    const left = this.options.resetTimeoutMs - (Date.now() - this.openedAt);
    const reopened = before === 'open' && left > 0;
    this.circuit = reopened
      ? this.createCircuit({ closed: false, halfOpen: false, lastTimerAt: Date.now() }, left)
      : this.createCircuit(initialStateFor(before, this.openedAt));
    previous.shutdown();
    // Built open, opossum goes straight to half-open when the reset timeout has already passed.
    const after = stateOf(this.circuit);
    if (after !== before) this.enter(after);
  }

  /** `firstResetMs`: the reset timeout of a circuit built open; later openings get the whole one. */
  private createCircuit(
    state: OpossumInitialState | undefined,
    firstResetMs = this.options.resetTimeoutMs,
  ): CircuitBreaker<[Attempt], void> {
    const opts = this.options;
    this.circuitOptions = {
      timeout: false,
      rollingCountTimeout: opts.windowMs,
      rollingCountBuckets: rollingBuckets(opts.windowMs),
      errorThresholdPercentage: opts.errorThresholdPercentage,
      volumeThreshold: opts.volumeThreshold,
      resetTimeout: firstResetMs,
      allowWarmUp: false,
      // Percentiles would sort every latency in the window on each failure; snapshots add a timer.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    };
    if (state !== undefined) this.circuitOptions.state = state;
    const circuit = new CircuitBreaker<[Attempt], void>(runAttempt, this.circuitOptions);
    // opossum keeps this object and reads the timeout from it at each opening.
    this.circuitOptions.resetTimeout = opts.resetTimeoutMs;
    circuit.on('open', this.handleOpen);
    circuit.on('halfOpen', this.handleHalfOpen);
    circuit.on('close', this.handleClose);
    return circuit;
  }

  private readonly handleOpen = (): void => {
    this.epoch++;
    this.openedAt = Date.now();
    this.enter('open');
  };

  private readonly handleHalfOpen = (): void => this.enter('half-open');

  private readonly handleClose = (): void => this.enter('closed');

  private enter(state: BreakerState): void {
    this.current = state;
    this.onStateChange(state);
  }
}

function stateOf(circuit: CircuitBreaker<[Attempt], void>): BreakerState {
  if (circuit.opened) return 'open';
  return circuit.halfOpen ? 'half-open' : 'closed';
}

function initialStateFor(state: BreakerState, openedAt: number): OpossumInitialState | undefined {
  if (state === 'closed') return undefined;
  if (state === 'half-open') return { closed: false, halfOpen: true };
  return { closed: false, halfOpen: false, lastTimerAt: openedAt };
}

/** opossum rotates buckets every floor(window / buckets) ms; a divisor keeps the window exact. */
function rollingBuckets(windowMs: number): number {
  for (let buckets = MAX_ROLLING_BUCKETS; buckets > 1; buckets--) {
    if (windowMs % buckets === 0) return buckets;
  }
  return 1;
}
