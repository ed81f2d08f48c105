/**
 * A seeded random source so two runs of the same scenario draw the same service times: differences
 * between runs then come from the system under test, not from the dice.
 */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFromText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Service times of real backends are right-skewed: most requests are quick, a few are slow. A
 * lognormal with the given mean and shape reproduces that tail.
 */
export function lognormalSampler(random: Random, meanMs: number, sigma = 0.5): () => number {
  const mu = Math.log(meanMs) - (sigma * sigma) / 2;
  return () => {
    const u1 = Math.max(random(), Number.MIN_VALUE);
    const u2 = random();
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.exp(mu + sigma * normal);
  };
}
