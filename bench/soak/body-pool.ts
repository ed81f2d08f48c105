import { createHash } from 'node:crypto';

/** One body the upstreams serve or the clients send, with the digest both sides check it against. */
export interface PoolBody {
  bytes: Buffer;
  sha256: string;
}

/** Small and large bodies, so both single-chunk and many-chunk streaming are checked. */
const SIZES = [0, 1, 17, 512, 1_500, 4_096, 16_384, 65_536, 131_072, 262_144];

/**
 * Deterministic bodies, built once. Every byte depends on the body's index and position, so a
 * chunk that lands in the wrong body or at the wrong offset changes the digest.
 */
export function buildBodyPool(copies = 3): PoolBody[] {
  const pool: PoolBody[] = [];
  for (let copy = 0; copy < copies; copy++) {
    for (const size of SIZES) {
      const index = pool.length;
      const bytes = Buffer.allocUnsafeSlow(size);
      let state = (index + 1) * 2_654_435_761;
      for (let i = 0; i < size; i++) {
        state = (state * 1_103_515_245 + 12_345) >>> 0;
        bytes[i] = state >>> 24;
      }
      pool.push({ bytes, sha256: sha256(bytes) });
    }
  }
  return pool;
}

/** Indexes of the pool's bodies at or under `maxBytes`, for requests that must stay small. */
export function smallBodies(pool: PoolBody[], maxBytes: number): number[] {
  return pool.flatMap((body, index) => (body.bytes.length <= maxBytes ? [index] : []));
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
