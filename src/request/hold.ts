import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { RequestContext } from './context.js';

/** How a held request's wait ended. */
export type HoldEnd = 'ready' | 'expired' | 'gone';

/**
 * What a held request waits for, asked again whenever the last answer's wait has passed: 0 when it
 * has come (the request goes on), a positive number of ms to wait before asking again, or Infinity
 * when it never will.
 */
export type HoldCheck = () => number;

/** Waits shorter than this are not worth a timer: the request goes on at once. */
export const MIN_WAIT_MS = 1;

/**
 * Holds a request until `check` says what it waits for has come (its turn to leave, spare capacity
 * in a failover region), its client leaves, or the check gives up. The client's leaving ends the
 * hold at once, so whatever the request holds goes back then, not when its turn would have come.
 * `end` is called exactly once, synchronously when the first check already decides.
 */
export function hold(ctx: RequestContext, check: HoldCheck, end: (how: HoldEnd) => void): void {
  const first = check();
  const decided = decision(first);
  if (decided !== undefined) return end(decided);
  const closes = ctx.res ?? ctx.socket;
  let timer: NodeJS.Timeout;
  const finish = (how: HoldEnd): void => {
    clearTimeout(timer);
    closes.removeListener('close', left);
    ctx.req.removeListener('aborted', left);
    end(how);
  };
  const left = (): void => finish('gone');
  const again = (): void => {
    if (clientLeft(ctx)) return finish('gone');
    const wait = check();
    const decided = decision(wait);
    if (decided !== undefined) return finish(decided);
    timer = setTimeout(again, wait);
  };
  timer = setTimeout(again, first);
  closes.once('close', left);
  // A response queued behind another on its HTTP/1.1 connection hears nothing when it goes.
  ctx.req.once('aborted', left);
}

/** What a request waits for when only time stands between it and going on: `ms` to pass. */
export function after(ms: number): HoldCheck {
  let wait = ms;
  return () => {
    const first = wait;
    wait = 0;
    return first;
  };
}

/** What a check's answer decides, or undefined when the request waits `wait` ms and asks again. */
function decision(wait: number): HoldEnd | undefined {
  if (wait < MIN_WAIT_MS) return 'ready';
  return wait === Number.POSITIVE_INFINITY ? 'expired' : undefined;
}

function clientLeft(ctx: RequestContext): boolean {
  if (ctx.req.aborted) return true;
  const res = ctx.res;
  if (res === undefined) return ctx.socket.destroyed;
  return ctx.http2 ? (res as Http2ServerResponse).stream.destroyed : (res as ServerResponse).destroyed;
}
