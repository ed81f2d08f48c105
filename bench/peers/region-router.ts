/** Region name -> upstream origins. The first region is the default for requests without a valid hint. */
export type RegionUpstreams = Record<string, readonly string[]>;

export const REGION_HEADER = 'x-region';

/** Picks an upstream by the `x-region` hint, round-robin within the region, as every peer must. */
export class RegionRouter {
  private readonly regions = new Map<string, { origins: readonly string[]; next: number }>();
  private readonly fallback: { origins: readonly string[]; next: number };

  constructor(upstreams: RegionUpstreams) {
    for (const [region, origins] of Object.entries(upstreams)) {
      if (origins.length === 0) throw new Error(`region ${region} has no upstreams`);
      this.regions.set(region, { origins, next: 0 });
    }
    const first = this.regions.values().next();
    if (first.done) throw new Error('no regions configured');
    this.fallback = first.value;
  }

  pick(hint: string | string[] | undefined): string {
    const entry = (typeof hint === 'string' ? this.regions.get(hint) : undefined) ?? this.fallback;
    const origin = entry.origins[entry.next]!;
    entry.next = (entry.next + 1) % entry.origins.length;
    return origin;
  }

  get origins(): string[] {
    return [...this.regions.values()].flatMap((entry) => entry.origins);
  }
}
