/**
 * Where a region's bucket gets its tokens. `local`: the clock refills it at `share` of the
 * configured rate, up to `share` of the burst, so that several processes each enforcing a share
 * enforce the whole together. `leased`: the clock adds nothing; tokens leased from a store shared
 * with other gateways are deposited into it, up to `capacity`.
 */
export type TokenSupply =
  | { readonly kind: 'local'; readonly share: number }
  | { readonly kind: 'leased'; readonly capacity: number };

export const WHOLE_LIMITS: TokenSupply = { kind: 'local', share: 1 };

/** The configured limits a supply sizes the bucket from. */
interface Limits {
  rps: number;
  burst: number;
}

export function bucketRate(limits: Limits, supply: TokenSupply): number {
  return supply.kind === 'local' ? limits.rps * supply.share : 0;
}

export function bucketSize(limits: Limits, supply: TokenSupply): number {
  return supply.kind === 'local' ? limits.burst * supply.share : supply.capacity;
}
