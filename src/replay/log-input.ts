import { constants, createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** A log that could not be read, named as the user gave it. */
export class LogReadError extends Error {
  constructor(
    readonly log: string,
    detail: string,
  ) {
    super(`${log}: cannot read the log (${detail})`);
    this.name = 'LogReadError';
  }
}

/** `-` is standard input; a name ending in `.gz` is gunzipped as it is read. */
export const STDIN = '-';

/** Fails with LogReadError unless every named log can be opened, so nothing runs on half the input. */
export async function checkLogsReadable(logs: readonly string[]): Promise<void> {
  for (const log of logs) {
    if (log === STDIN) continue;
    try {
      await access(log, constants.R_OK);
      if ((await stat(log)).isDirectory()) throw new LogReadError(log, 'a directory');
    } catch (err) {
      if (err instanceof LogReadError) throw err;
      throw new LogReadError(log, (err as NodeJS.ErrnoException).code ?? String(err));
    }
  }
}

/**
 * The log's text as a stream of strings. `latin1` reads each byte as one character, about twice as
 * fast as decoding UTF-8; it is exact for every field replay reads (times, numbers, region names,
 * addresses and everything ASCII in a path), so callers use UTF-8 only when a route prefix has
 * other characters to match.
 */
export function openLog(log: string, encoding: 'utf8' | 'latin1', stdin: Readable = process.stdin): Readable {
  const raw = log === STDIN ? stdin : createReadStream(log, { highWaterMark: 1 << 20 });
  if (!log.endsWith('.gz')) return raw.setEncoding(encoding);
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  raw.on('error', (err: Error) => gunzip.destroy(err));
  return raw.pipe(gunzip).setEncoding(encoding);
}

const MAX_LINE_CHARS = 1 << 20;

/** Called with each line as a range of a larger text, so lines are never copied out one by one. */
export type LineSink = (text: string, start: number, end: number) => void;

/**
 * Splits one log into lines, a chunk at a time: the caller decides when to read the next chunk,
 * which is how several logs are read in step and how memory stays bounded.
 */
export class LineReader {
  readonly log: string;
  private readonly chunks: AsyncIterator<string>;
  private carry = '';
  private ended = false;
  /** Lines dropped for being longer than any access line can be (a binary file, a runaway writer). */
  overlong = 0;
  // Set while the rest of an overlong line is being thrown away.
  private skipRest = false;

  constructor(log: string, stream: Readable) {
    this.log = log;
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<string>;
  }

  get done(): boolean {
    return this.ended;
  }

  /** Hands every whole line of the next chunk to `sink`; false once the log has ended. */
  async readChunk(sink: LineSink): Promise<boolean> {
    if (this.ended) return false;
    let next: IteratorResult<string>;
    try {
      next = await this.chunks.next();
    } catch (err) {
      throw new LogReadError(this.log, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    if (next.done) {
      this.ended = true;
      if (this.carry !== '' && !this.skipRest) emitLine(this.carry, 0, this.carry.length, sink);
      this.carry = '';
      return false;
    }
    const text = next.value;
    let start = 0;
    if (this.skipRest || this.carry !== '') {
      // The line the last chunk ended inside. Only it is joined: scanning a joined (cons) string
      // character by character is several times slower than scanning the chunk as it came.
      const newline = text.indexOf('\n');
      if (newline < 0) {
        if (!this.skipRest) this.carry += text;
        this.dropIfOverlong();
        return true;
      }
      if (!this.skipRest) {
        const first = this.carry + text.slice(0, newline);
        emitLine(first, 0, first.length, sink);
      }
      this.carry = '';
      this.skipRest = false;
      start = newline + 1;
    }
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) break;
      emitLine(text, start, newline, sink);
      start = newline + 1;
    }
    this.carry = start === text.length ? '' : text.slice(start);
    this.dropIfOverlong();
    return true;
  }

  private dropIfOverlong(): void {
    if (this.carry.length <= MAX_LINE_CHARS) return;
    // Holding on to it would let one endless line take all the memory.
    this.overlong++;
    this.carry = '';
    this.skipRest = true;
  }
}

function emitLine(text: string, start: number, end: number, sink: LineSink): void {
  // Lines written on Windows end in \r\n.
  const last = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
  if (last > start) sink(text, start, last);
}
