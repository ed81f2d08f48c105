// The access line, built by hand the way pino's own fast path builds a line: constant fragments
// joined with the few values that change, no object per request, no generic serializer, a
// timestamp string reused within each second. It is written to the logger's own destination, so
// access and event lines share one ordered, batched stream. Field names and meaning: contract §5.

import pino, { type Logger } from 'pino';
import type { Outcome } from '../domain.js';
import type { RequestContext } from '../request/context.js';

interface LineStream {
  write(line: string): unknown;
}

export class AccessLog {
  private readonly stream: LineStream;
  private second = -1;
  private secondPrefix = '';

  constructor(private readonly logger: Logger) {
    this.stream = (logger as unknown as Record<symbol, LineStream>)[pino.symbols.streamSym]!;
  }

  /** Whether lines are written at all: access logging on and the level at info or below. */
  enabled(on: boolean): boolean {
    return on && this.logger.isLevelEnabled('info');
  }

  write(ctx: RequestContext, outcome: Outcome, durationMs: number): void {
    // The logger's own bindings (a cluster worker's `worker` id), pre-serialised by pino.
    const bindings = (this.logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
    let line = `{"level":"info","time":"${this.timestamp()}"${bindings},"region":${ctx.region.jsonName},"status":${ctx.status},"outcome":"${outcome}","priority":"${ctx.priority}","durationMs":${Math.round(durationMs * 100) / 100},"method":${quote(ctx.req.method ?? '')},"path":${quote(ctx.req.url || targetOfConnect(ctx))},"requestId":${quote(ctx.requestId)},"client":${quote(ctx.client)}`;
    if (ctx.reason !== undefined) line += `,"reason":"${logReason(ctx.reason)}"`;
    if (ctx.upstream !== undefined) line += `,"upstream":${quote(ctx.upstream)}`;
    if (ctx.region !== ctx.home) line += `,"failoverFrom":${ctx.home.jsonName}`;
    if (ctx.waitMs > 0) line += `,"waitMs":${Math.round(ctx.waitMs * 100) / 100}`;
    this.stream.write(`${line},"bytes":${ctx.bytes}}\n`);
  }

  /** ISO 8601 with milliseconds; the part up to the second is rebuilt once a second. */
  private timestamp(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const ms = now - second * 1000;
    return `${this.secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  }
}

/** An HTTP/2 CONNECT has no :path: its target is its :authority, as HTTP/1.1's request line has it. */
function targetOfConnect(ctx: RequestContext): string {
  const authority = ctx.req.method === 'CONNECT' ? ctx.req.headers[':authority'] : undefined;
  return typeof authority === 'string' ? authority : '';
}

/** `timeout` and `unreachable` read better in a log line than the refusal table's names. */
function logReason(reason: string): string {
  return reason.startsWith('upstream-') ? reason.slice('upstream-'.length) : reason;
}

/** A JSON string; clients choose these values, so only a plain run skips JSON.stringify. */
function quote(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(value);
  }
  return `"${value}"`;
}
