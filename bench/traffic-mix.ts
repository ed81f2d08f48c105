import { trueLikes, videoIdAt } from './sim/video-catalog.js';

/** The three kinds of request a video site's clients send, from most to least important. */
export type Kind = 'video' | 'likes' | 'notifications';

export const KINDS: readonly Kind[] = ['video', 'likes', 'notifications'];

/** Share of each kind in a region's traffic. A surge scales the whole mix, so the shares hold. */
export const TRAFFIC_MIX: Record<Kind, number> = { video: 0.5, likes: 0.3, notifications: 0.2 };

export const CATALOGUE_SIZE = 20;

/**
 * `ok`: 200 with the true counts. `stale`: a kept copy served by the proxy. `zero`: 200 with a
 * like count of 0, the symptom of an overloaded counts store. `shed`: 503 or 429. `error`: any
 * other status, a refused connection or a wrong count. `timeout`: no full answer in time.
 */
export type Outcome = 'ok' | 'stale' | 'zero' | 'shed' | 'error' | 'timeout';

export function pathFor(kind: Kind, sequence: number): string {
  if (kind === 'notifications') return '/api/notifications';
  const id = videoIdAt(sequence, CATALOGUE_SIZE);
  return kind === 'video' ? `/api/video/${id}` : `/api/likes/${id}`;
}

export function carriesCounts(kind: Kind): boolean {
  return kind !== 'notifications';
}

export function classifyAnswer(
  kind: Kind,
  path: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): Outcome {
  if (status === 503 || status === 429) return 'shed';
  if (status !== 200) return 'error';
  if (carriesCounts(kind)) {
    const likes = likesIn(body);
    if (likes === 0) return 'zero';
    if (likes !== trueLikes(path.slice(path.lastIndexOf('/') + 1))) return 'error';
  }
  if (headers['x-floodgate-cache'] === 'stale' || headers['x-cache-status'] === 'STALE') return 'stale';
  return 'ok';
}

function likesIn(body: string): number | undefined {
  try {
    const parsed = JSON.parse(body) as { likes?: unknown };
    return typeof parsed.likes === 'number' ? parsed.likes : undefined;
  } catch {
    return undefined;
  }
}
