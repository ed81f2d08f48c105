import type { ServerResponse } from 'node:http';
import type { StaleCache, StaleEntry } from '../cache/stale-cache.js';

/** The key a home region's stale copy of a path is kept under (failover answers count for the home region). */
export function staleKey(home: string, path: string): string {
  return `${home} ${path}`;
}

/**
 * Answers with the copy kept for `home` and `path`, if there is one: its original status and body,
 * marked stale, with its age in whole seconds. Returns the status served, or undefined.
 */
export function serveKeptCopy(
  res: ServerResponse,
  cache: StaleCache,
  home: string,
  servedBy: string,
  path: string,
  now: number,
): number | undefined {
  const entry = cache.get(staleKey(home, path));
  if (entry === undefined) return undefined;
  serveStale(res, entry, servedBy, now);
  return entry.status;
}

function serveStale(res: ServerResponse, entry: StaleEntry, region: string, now: number): void {
  res.writeHead(entry.status, {
    ...entry.headers,
    'content-length': entry.body.length,
    'x-floodgate-region': region,
    'x-floodgate-cache': 'stale',
    age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))),
  });
  res.end(entry.body);
}
