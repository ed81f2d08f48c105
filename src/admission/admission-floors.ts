import { PRIORITIES, priorityRank, type Reserves, reserveFraction } from './priority.js';

/**
 * The floors a region's admission applies, indexed by priority rank, worked out from the configured
 * reserves and the bucket's size (see region-admission.ts for what they mean and when each applies).
 */
export class AdmissionFloors {
  /** Tokens each priority must leave in the bucket while a more important priority is offered. */
  readonly tokensShort = new Float64Array(PRIORITIES.length);
  /** ... and while all of them are idle: only critical's own share is kept back. */
  readonly tokensLent = new Float64Array(PRIORITIES.length);
  /** Shares of the in-flight cap kept back from each priority while the region is short of slots. */
  readonly slotsShort = new Float64Array(PRIORITIES.length);
  /** ... and while it is not. */
  readonly slotsLent = new Float64Array(PRIORITIES.length);
  /** Tokens a request failed over from another region must leave: above every priority's floor. */
  failoverTokens = 0;

  /**
   * The floors never decrease with priority (each is at least the one above it, whatever the
   * reserves say), and every token floor stays at least one token below the burst, so every
   * priority can eventually be admitted and Retry-After is finite.
   */
  update(reserves: Reserves, burst: number): void {
    const highestFloor = Math.max(0, burst - 1);
    let floor = 0;
    let reserve = 0;
    for (const priority of PRIORITIES) {
      const rank = priorityRank(priority);
      reserve = Math.max(reserve, reserveFraction(priority, reserves));
      floor = Math.min(highestFloor, Math.max(floor, reserve * burst));
      this.tokensShort[rank] = floor;
      this.slotsShort[rank] = reserve;
    }
    // Lending keeps back what only critical may use (high's reserve, the smallest) and lends the rest.
    const criticalShare = priorityRank('high');
    for (let rank = 0; rank < PRIORITIES.length; rank++) {
      this.tokensLent[rank] = Math.min(this.tokensShort[rank]!, this.tokensShort[criticalShare]!);
      this.slotsLent[rank] = Math.min(this.slotsShort[rank]!, this.slotsShort[criticalShare]!);
    }
    // Halfway between the lowest priority's floor and the top: the region's own bursts of every
    // priority fit in the gap before failover traffic could make any of them wait.
    const lowest = this.tokensShort[PRIORITIES.length - 1]!;
    this.failoverTokens = Math.min(highestFloor, lowest + Math.max(1, (highestFloor - lowest) / 2));
  }

  /**
   * The slots requests failed over from elsewhere may fill, in all: what low may under its full
   * reserve (and none while the region is short of slots, see region-admission.ts). The ones held
   * when the region runs short drain within one upstream time; until then own low traffic can be
   * refused the slots they hold, the price of lending slots that would otherwise sit idle.
   */
  failoverSlots(slotsFor: (reserve: number) => number): number {
    return slotsFor(this.slotsShort[PRIORITIES.length - 1]!);
  }
}
