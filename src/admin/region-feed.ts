// The dashboard's data: the region state sampled once a second, kept in a bounded history and
// pushed to every open page as server-sent events. One timer serves the history and every stream,
// so the region state is read once per tick however many pages are open; it runs from the admin
// port's start to its close, because the history has to exist before anyone opens a page.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AdminView, RegionView } from './admin-view.js';
import { type HistoryPoint, RegionHistory } from './region-history.js';

export interface RegionFeedOptions {
  intervalMs: number;
  /** How many samples the history keeps. */
  historyPoints: number;
}

export class RegionFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly history: RegionHistory;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly view: AdminView,
    private readonly logger: Logger,
    options: RegionFeedOptions,
  ) {
    this.history = new RegionHistory(options.historyPoints);
    this.timer = setInterval(() => this.tick(), options.intervalMs);
    this.timer.unref();
  }

  points(): HistoryPoint[] {
    return this.history.points();
  }

  /**
   * Opens an event stream: the history first (`history`), then the regions as they are now
   * (`regions`, without a sample: the charts take points from the timer only, so they stay evenly
   * spaced), then a `regions` event with that tick's sample every tick.
   */
  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const now = { at: Date.now(), ...regionsBody(this.view) };
    res.write(`retry: 2000\n${frame('history', { points: this.history.points() })}${frame('regions', now)}`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  close(): void {
    clearInterval(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private tick(): void {
    let body: { regions: Record<string, RegionView> };
    try {
      body = regionsBody(this.view);
    } catch (err) {
      this.logger.error({ err }, 'reading region state for the dashboard failed');
      return;
    }
    const at = Date.now();
    const point = this.history.record(at, body.regions);
    if (this.clients.size === 0) return;
    const message = frame('regions', { at, ...body, sample: point.regions });
    for (const res of this.clients) res.write(message);
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Rates and tokens are rounded for humans; everything else in the view is passed through. */
export function regionsBody(view: AdminView): { regions: Record<string, RegionView> } {
  const regions: Record<string, RegionView> = {};
  for (const [name, r] of Object.entries(view.regions())) {
    regions[name] = {
      ...r,
      tokens: round2(r.tokens),
      rps: round2(r.rps),
      admittedRps: round2(r.admittedRps),
      shedRps: round2(r.shedRps),
      baselineRps: round2(r.baselineRps),
      currentRps: round2(r.currentRps),
      p50Ms: round2(r.p50Ms),
      p99Ms: round2(r.p99Ms),
    };
  }
  return { regions };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
