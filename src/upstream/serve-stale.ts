import type { ServerResponse } from 'node:http';
import type { StaleEntry } from '../cache/stale-cache.js';

/** Answers with a kept copy: its original status and body, marked stale, with its age in whole seconds. */
export function serveStale(res: ServerResponse, entry: StaleEntry, region: string, now: number): void {
  res.writeHead(entry.status, {
    ...entry.headers,
    'content-length': entry.body.length,
    'x-floodgate-region': region,
    'x-floodgate-cache': 'stale',
    age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))),
  });
  res.end(entry.body);
}
