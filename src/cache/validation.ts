/**
 * A conditional GET that a kept copy answers (RFC 9111 §4.3.2): when the client already holds the
 * representation the copy is, it gets `304` and no body, as the origin would have said. Only the
 * conditions a cache evaluates are read: If-None-Match against the copy's ETag (weak comparison,
 * RFC 9110 §13.1.2), else If-Modified-Since against its Last-Modified, or its Date without one
 * (§13.1.3). If-Match, If-Unmodified-Since and If-Range are the origin's to judge; a copy is
 * served whole whatever they say, as it is to a request without conditions.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** What a 304 carries of the 200 it stands for (RFC 9110 §15.4.5). */
const NOT_MODIFIED_FIELDS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary']);

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc may be a comma, so a list is not split on commas.
const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

/** Whether the request's conditions say the client holds the copy whose headers are `kept`. */
export function clientHoldsCopy(request: IncomingHttpHeaders, kept: readonly string[]): boolean {
  const noneMatch = request['if-none-match'];
  if (noneMatch !== undefined) {
    const etag = fieldOf(kept, 'etag');
    return etag !== undefined && matchesWeakly(noneMatch, etag.trim());
  }
  const since = request['if-modified-since'];
  if (since === undefined) return false;
  const sinceMs = httpDateMs(since);
  const modifiedMs = Date.parse(fieldOf(kept, 'last-modified') ?? fieldOf(kept, 'date') ?? '');
  return !Number.isNaN(sinceMs) && modifiedMs <= sinceMs;
}

// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient still reads.
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC_850 = /^[A-Z][a-z]{5,8}, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** An HTTP-date's time, or NaN for anything else, which §13.1.3 has If-Modified-Since ignore. */
function httpDateMs(value: string): number {
  if (IMF_FIXDATE.test(value) || RFC_850.test(value)) return Date.parse(value);
  // asctime carries no zone and means GMT; Date.parse would read it as local time.
  return ASCTIME.test(value) ? Date.parse(`${value} GMT`) : Number.NaN;
}

/** The copy's headers that a 304 in its place carries. */
export function notModifiedHeaders(kept: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < kept.length; i += 2)
    if (NOT_MODIFIED_FIELDS.has(kept[i]!)) out.push(kept[i]!, kept[i + 1]!);
  return out;
}

function matchesWeakly(list: string, etag: string): boolean {
  if (list.trim() === '*') return true;
  const opaque = opaqueTag(etag);
  for (const [tag] of list.matchAll(ENTITY_TAG)) if (opaqueTag(tag) === opaque) return true;
  return false;
}

/** The weak comparison compares entity-tags without their `W/` (RFC 9110 §8.8.3.2). */
function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

function fieldOf(list: readonly string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
  return undefined;
}
