/**
 * Every video has fixed, non-zero counts derived from its id, so a load generator can tell a true
 * answer from the zero an overloaded counts store produces without asking anyone.
 */
export function trueLikes(videoId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < videoId.length; i++) {
    hash ^= videoId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return 1 + ((hash >>> 0) % 99_999);
}

export function trueViews(videoId: string): number {
  return trueLikes(videoId) * 17 + 3;
}

export function videoIdAt(index: number, catalogueSize: number): string {
  return `v${(index % catalogueSize) + 1}`;
}
