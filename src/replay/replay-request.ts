import { NO_ID } from './interned-strings.js';

/**
 * One request as replay keeps it between reading its line and offering it: only numbers and the
 * few strings replay needs, none of them a slice of the log's text (a slice would keep the whole
 * chunk it came from in memory for as long as the request waits to be replayed).
 */
/**
 * A request's logged client address, kept only when some config limits clients by ip: most often
 * as its id among the run's clients (an id of the first intern table, which stands for one address
 * for the whole run, see interned-strings.ts), else as text.
 */
export interface ClientFields {
  /** The address when it has no such id; undefined when it has one, or has no address. */
  client: string | undefined;
  /** NO_ID when the address is given as text, or there is none. */
  clientId: number;
}

export interface ReplayRequest extends ClientFields {
  /** Epoch ms: `time - durationMs`. */
  arrival: number;
  /**
   * How long its upstream took, without any wait for a pacing turn: what it holds an in-flight slot
   * for once admitted and paced (for requests refused live, an estimate; NaN until known).
   */
  durationMs: number;
  /** The id of its home region's name (ReplayRun's, the same in every log). */
  home: number;
  /** The priority rank each replayed config gives it, two bits per config (config i at bits 2i, 2i+1). */
  ranks: number;
  /** Its route in the first config, for duration estimates. */
  route: number;
  /**
   * Read order, so requests that arrived in the same millisecond keep the order they were logged
   * in. Kept as 32 bits by the reorder buffer, so what it hands out wraps past 2^31: compare two
   * only as RequestRows.before does.
   */
  seq: number;
}

/** A request as its line is read: the reorder buffer needs its end too, nothing after it does. */
export interface ReadRequest extends ReplayRequest {
  /** Epoch ms: `time`, when the answer ended. */
  end: number;
}

/** A request to fill in: replay keeps one per place a request passes through, not one per request. */
export function emptyRequest(): ReadRequest {
  return {
    arrival: 0,
    end: 0,
    durationMs: 0,
    home: 0,
    ranks: 0,
    client: undefined,
    clientId: NO_ID,
    route: 0,
    seq: 0,
  };
}

/** The rank config `index` gives the request. */
export function rankFor(request: ReplayRequest, index: number): number {
  return (request.ranks >> (2 * index)) & 3;
}
