/**
 * A synthetic access log shaped like a busy gateway's: three regions at a steady rate with a surge
 * in one of them, a mix of routes and priorities, lognormal upstream durations, shed answers that
 * take a fraction of a millisecond, and a line layout identical to what src/observability/access-log.ts
 * writes. Lines come out ordered by end time, as a gateway writes them, which is the order replay
 * has to undo.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { heapPop, heapPush } from '../../src/replay/min-heap.js';
import { lognormalSampler, seededRandom } from '../sim/random.js';

export interface SyntheticLogOptions {
  path: string;
  lines: number;
  /** Offered requests per second, all regions together, outside the surge. */
  rps: number;
}

export const SYNTHETIC_START_MS = Date.parse('2026-12-01T10:00:00.000Z');

const REGIONS = ['us-east', 'us-west', 'eu-west'];
const ROUTES = [
  { path: '/api/video/', priority: 'critical', share: 0.3 },
  { path: '/api/likes/', priority: 'normal', share: 0.5 },
  { path: '/api/notifications/', priority: 'low', share: 0.2 },
];

interface Pending {
  end: number;
  line: string;
}

/** Writes the log; resolves with the span of log time it covers, in ms. */
export async function writeSyntheticLog(options: SyntheticLogOptions): Promise<number> {
  const random = seededRandom(20261201);
  const upstreamMs = lognormalSampler(random, 40, 0.7);
  const out = createWriteStream(options.path, { highWaterMark: 1 << 20 });
  const pending: Pending[] = [];
  let batch = '';
  let arrival = SYNTHETIC_START_MS;
  const spanMs = (options.lines / options.rps) * 1000;
  for (let i = 0; i < options.lines; i++) {
    // us-east triples its traffic through the middle fifth of the log.
    const surging =
      arrival - SYNTHETIC_START_MS > spanMs * 0.4 && arrival - SYNTHETIC_START_MS < spanMs * 0.6;
    const rate = surging ? options.rps * (5 / 3) : options.rps;
    arrival += (-Math.log(Math.max(random(), 1e-12)) * 1000) / rate;
    const region = surging && random() < 0.6 ? REGIONS[0]! : REGIONS[Math.floor(random() * 3)]!;
    const route = pick(random());
    const shed = random() < (surging && region === REGIONS[0] ? 0.45 : 0.05);
    const durationMs = shed ? 0.05 + random() * 0.2 : upstreamMs();
    const end = arrival + durationMs;
    const line = accessLine({ i, end, region, route, shed, durationMs, client: Math.floor(random() * 5000) });
    heapPush(pending, { end, line }, endsFirst);
    while (pending.length > 0 && pending[0]!.end <= arrival) {
      batch += heapPop(pending, endsFirst).line;
      if (batch.length > 1 << 16) {
        if (!out.write(batch)) await once(out, 'drain');
        batch = '';
      }
    }
  }
  while (pending.length > 0) batch += heapPop(pending, endsFirst).line;
  out.end(batch);
  await once(out, 'finish');
  return arrival - SYNTHETIC_START_MS;
}

function pick(draw: number): (typeof ROUTES)[number] {
  let total = 0;
  for (const route of ROUTES) {
    total += route.share;
    if (draw < total) return route;
  }
  return ROUTES[ROUTES.length - 1]!;
}

function accessLine(r: {
  i: number;
  end: number;
  region: string;
  route: (typeof ROUTES)[number];
  shed: boolean;
  durationMs: number;
  client: number;
}): string {
  const time = new Date(Math.floor(r.end)).toISOString();
  const head = `{"level":"info","time":"${time}","region":"${r.region}","status":${r.shed ? 503 : 200},"outcome":"${r.shed ? 'shed' : 'forwarded'}","priority":"${r.route.priority}","durationMs":${Math.round(r.durationMs * 100) / 100},"method":"GET","path":"${r.route.path}${r.i % 997}?v=2","requestId":"req-${r.i.toString(36)}","client":"10.${(r.client >> 8) & 255}.${r.client & 255}.7"`;
  const tail = r.shed
    ? ',"reason":"rate","bytes":64}'
    : `,"upstream":"http://10.1.0.11:9001","bytes":${512 + (r.i % 4096)}}`;
  return `${head}${tail}\n`;
}

function endsFirst(a: Pending, b: Pending): boolean {
  return a.end < b.end;
}
