import type { Clock } from '../admission/clock.js';
import { PRIORITIES } from '../admission/priority.js';
import { type AdmissionLimits, RegionAdmission, type ShedReason } from '../admission/region-admission.js';
import { PACE_TOLERANCE, paceRps, SendPacer } from '../admission/send-pacer.js';
import type { RegionConfig } from '../config/load.js';
import { MIN_WAIT_MS } from '../request/hold.js';

/** Why replay refused a request: the region's reasons, and the client's own limit. */
export type ReplayShedReason = ShedReason | 'client-rate';
export const REPLAY_SHED_REASONS: readonly ReplayShedReason[] = [
  'rate',
  'concurrency',
  'surge',
  'client-rate',
];
const CLIENT_RATE = REPLAY_SHED_REASONS.indexOf('client-rate');

/** Epoch milliseconds, from the first tick that saw the surge to the tick that saw it end. */
export interface SurgePeriod {
  from: number;
  to: number;
}

/** Requests per whole second of log time, for the chart. */
export class SecondSeries {
  readonly offered: number[] = [];
  readonly admitted: number[] = [];
  readonly shed: number[] = [];
  private firstSecond = Number.NaN;

  /** The first second of the series, in epoch seconds. */
  get startSecond(): number {
    return this.firstSecond;
  }

  add(time: number, admitted: boolean): void {
    const second = Math.floor(time / 1000);
    if (Number.isNaN(this.firstSecond)) this.firstSecond = second;
    const index = second - this.firstSecond;
    while (this.offered.length <= index) {
      this.offered.push(0);
      this.admitted.push(0);
      this.shed.push(0);
    }
    this.offered[index]!++;
    if (admitted) this.admitted[index]!++;
    else this.shed[index]!++;
  }
}

/**
 * One region under replay: the real admission core and send pacer on the virtual clock, and the
 * counts of what it decided, by priority and reason, with the periods it surged.
 */
export class RegionReplay {
  readonly name: string;
  readonly admission: RegionAdmission;
  private readonly pacer: SendPacer;
  private readonly configuredRps: number;
  /** Admitted requests by priority rank. */
  readonly admitted = new Float64Array(PRIORITIES.length);
  /** Shed requests by reason (REPLAY_SHED_REASONS order) times priority rank. */
  readonly shed = new Float64Array(REPLAY_SHED_REASONS.length * PRIORITIES.length);
  readonly surges: SurgePeriod[] = [];
  readonly series: SecondSeries | undefined;
  private surgingSince = Number.NaN;
  private lastArrival = Number.NaN;
  private readonly clock: Clock;

  constructor(options: { region: RegionConfig; limits: AdmissionLimits; clock: Clock; withSeries: boolean }) {
    const { region, clock } = options;
    this.name = region.name;
    this.clock = clock;
    this.admission = new RegionAdmission(options.limits, clock);
    this.pacer = new SendPacer(PACE_TOLERANCE, region.capacity.paceMaxWaitMs);
    this.configuredRps = region.capacity.rps;
    this.series = options.withSeries ? new SecondSeries() : undefined;
  }

  /**
   * Books an admitted request's turn to leave, as the gateway does (gateway.ts `send`); returns how
   * long it waits, holding its slot, before its upstream time starts.
   */
  paceWait(): number {
    const wait = this.pacer.wait(this.clock(), paceRps(this.admission, this.configuredRps));
    return wait < MIN_WAIT_MS ? 0 : wait;
  }

  /** Offers one request, at a priority rank, to the region's admission; null when admitted. */
  admitRank(rank: number, enforce: boolean): ShedReason | null {
    this.lastArrival = this.clock();
    return this.admission.admitRank(rank, enforce);
  }

  /** A request refused by the client limit never reaches the region's admission, but is the region's traffic. */
  noteClientRefusal(): void {
    this.lastArrival = this.clock();
  }

  /** Counts one decision; `reason` undefined means admitted. */
  count(rank: number, reason: ReplayShedReason | undefined): void {
    if (reason === undefined) this.admitted[rank]!++;
    else this.shed[reasonIndex(reason) * PRIORITIES.length + rank]!++;
    this.series?.add(this.clock(), reason === undefined);
  }

  tick(): void {
    const change = this.admission.tick();
    if (change === 'began') this.surgingSince = this.clock();
    else if (change === 'ended') this.closeSurge(this.clock());
  }

  /** The log has ended: a surge still on ends at the region's last request. */
  finish(): void {
    if (!Number.isNaN(this.surgingSince)) this.closeSurge(Math.max(this.lastArrival, this.surgingSince));
  }

  shedCount(reason: ReplayShedReason, rank: number): number {
    return this.shed[reasonIndex(reason) * PRIORITIES.length + rank]!;
  }

  private closeSurge(to: number): void {
    this.surges.push({ from: this.surgingSince, to });
    this.surgingSince = Number.NaN;
  }
}

function reasonIndex(reason: ReplayShedReason): number {
  switch (reason) {
    case 'rate':
      return 0;
    case 'concurrency':
      return 1;
    case 'surge':
      return 2;
    default:
      return CLIENT_RATE;
  }
}
