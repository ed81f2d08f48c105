/**
 * One kept copy, and the capture that makes it: the body is collected while it streams to the
 * client, bounded like the cache's entries, and the copy is handed to the cache once complete.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { clientResponseHeaders } from '../http/hop-by-hop.js';
import { BodyCapture, type CaptureBudget } from './body-capture.js';
import type { KeptPolicy } from './cache-rules.js';

/** A response body being copied while it streams to the client. */
export interface Capture {
  /** False once the body is over `maxEntryBytes`: the caller may drop the capture then. */
  push(chunk: Buffer): boolean;
  /** Keeps the copy once the whole body has arrived. Never call it for a body cut short. */
  finish(): boolean;
  /** The body will not arrive whole: what was held goes back to the budget. A no-op once finished. */
  abandon(): void;
}

export interface Copy extends KeptPolicy {
  /** Which variant of the target it is (see `variantOf`): a newer copy of it replaces this one. */
  variant: string;
  status: number;
  headers: string[];
  body: Buffer;
  /** When the capture began, on the cache's clock. */
  keptAt: number;
  expiresAt: number;
  size: number;
}

/**
 * Bookkeeping per copy beyond its strings and body: the wrapper objects, the library's policy
 * with its parsed directives and header objects, the body's own ArrayBuffer. Measured at about
 * 1.4 KB of heap per small copy (1.7 KB with Vary) all told, strings included.
 */
export const COPY_OVERHEAD_BYTES = 1280;

/** Where a finished capture hands its copy. */
export interface CopySink {
  keep(key: string, copy: Copy): boolean;
}

/** The body of a copy whose capture is still under way. */
export const EMPTY = Buffer.alloc(0);

/** A capture under way: the copy waits for its body, bounded like the cache's entries. */
export class PendingCopy implements Capture {
  private readonly body: BodyCapture;

  constructor(
    private readonly sink: CopySink,
    bounds: { maxBytes: number; budget: CaptureBudget },
    private readonly pending: { key: string; declaredBytes: number | undefined; copy: Copy },
  ) {
    this.body = new BodyCapture(bounds.maxBytes, bounds.budget);
  }

  push(chunk: Buffer): boolean {
    return this.body.push(chunk);
  }

  abandon(): void {
    this.body.abandon();
  }

  finish(): boolean {
    const body = this.body.finish();
    const { key, declaredBytes, copy } = this.pending;
    // A body shorter than declared was cut off; a caller that missed it must not keep half an answer.
    if (body === undefined || (declaredBytes !== undefined && body.length !== declaredBytes)) return false;
    copy.body = body;
    copy.size = key.length + body.length + COPY_OVERHEAD_BYTES + copyHeaderBytes(copy);
    return this.sink.keep(key, copy);
  }
}

/**
 * The headers served with a copy: as the client got them, less the two that are set anew. An
 * answer without `date` gets the time it was received (`receivedAtMs`, epoch ms): a cache must add
 * one (RFC 9110 §6.6.1), or the copy would be served dated as new.
 */
export function keptHeaders(headers: IncomingHttpHeaders, receivedAtMs: number): string[] {
  const list = clientResponseHeaders(headers);
  const kept: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    if (name !== 'age' && name !== 'content-length') kept.push(name, list[i + 1]!);
  }
  if (headers.date === undefined) kept.push('date', new Date(receivedAtMs).toUTCString());
  return kept;
}

/** The served list, plus the library's own header objects for the response and the request. */
function copyHeaderBytes(copy: Copy): number {
  let bytes = 0;
  for (const item of copy.headers) bytes += item.length + 2;
  const stored = copy.policy.toObject();
  return bytes + headerBytes(stored.resh) + (stored.reqh === null ? 0 : headerBytes(stored.reqh));
}

export function headerBytes(headers: Record<string, string | string[] | undefined>): number {
  let bytes = 0;
  for (const name in headers) {
    const value = headers[name];
    bytes += name.length + 4;
    if (typeof value === 'string') bytes += value.length;
    else if (value !== undefined) for (const item of value) bytes += name.length + 4 + item.length;
  }
  return bytes;
}
