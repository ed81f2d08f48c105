import type { RegionAdmission, TokenSupply } from '../admission/region-admission.js';

/** The parts of a region that deciding its token supply needs. */
export interface LimitedRegion {
  readonly name: string;
  readonly admission: RegionAdmission;
  readonly config: { readonly capacity: { readonly rps: number; readonly burst: number } };
}

/** The parts of a runtime (one loaded config) that deciding token supplies needs. */
export interface LimitedRuntime {
  readonly regions: ReadonlyMap<string, LimitedRegion>;
  readonly config: { readonly cluster?: { readonly leaseSize?: number } };
}

/** Decides where each region's tokens come from in this process. */
export interface LimitsPolicy {
  /** Called with every runtime before it serves a request (at start and on each reload). */
  apply(runtime: LimitedRuntime): void;
  /** Called once before the public port opens. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The share of every region's limits one process enforces on its own: 1 / (workers x instances).
 * Each of N processes refilling at rps/N up to burst/N admits no more together than one process
 * with the whole limits would.
 */
export function processShare(workers: number, instances: number): number {
  return 1 / (Math.max(1, workers) * Math.max(1, instances));
}

/** Local limits only: every region enforces this process's share of its configured limits. */
export class LocalShare implements LimitsPolicy {
  private readonly supply: TokenSupply;

  constructor(private readonly share: number) {
    this.supply = { kind: 'local', share };
  }

  apply(runtime: LimitedRuntime): void {
    for (const region of runtime.regions.values()) {
      if (!sameSupply(region.admission.tokenSupply, this.supply))
        region.admission.setTokenSupply(this.supply);
      region.admission.setTrafficShare(this.share);
    }
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Several policies as one: applied and started in order, closed together. */
export function allOf(policies: readonly LimitsPolicy[]): LimitsPolicy {
  return {
    apply(runtime) {
      for (const policy of policies) policy.apply(runtime);
    },
    async start() {
      for (const policy of policies) await policy.start();
    },
    async close() {
      await Promise.all(policies.map((policy) => policy.close()));
    },
  };
}

export function sameSupply(a: TokenSupply, b: TokenSupply): boolean {
  if (a.kind === 'local' && b.kind === 'local') return a.share === b.share;
  if (a.kind === 'leased' && b.kind === 'leased') return a.capacity === b.capacity;
  return false;
}
