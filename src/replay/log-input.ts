import { constants, createReadStream } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
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

const CHUNK_BYTES = 1 << 20;

/**
 * The log's bytes, a chunk at a time. Lines are read as bytes and only the few values replay keeps
 * are decoded (as UTF-8 when they hold anything beyond ASCII), so nothing is spent decoding the
 * rest of every line. A plain file is read into the same two buffers over and over, so a chunk is
 * only valid until the next is asked for.
 */
export function openLog(log: string, stdin: Readable = process.stdin): AsyncIterable<Buffer | string> {
  if (log !== STDIN && !log.endsWith('.gz')) return fileChunks(log);
  const raw = log === STDIN ? stdin : createReadStream(log, { highWaterMark: CHUNK_BYTES });
  if (!log.endsWith('.gz')) return raw;
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  raw.on('error', (err: Error) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

// A stream hands out a new buffer per chunk: fresh memory to fault in and collect, a megabyte at a
// time. Two buffers instead, in turn: the next chunk is read into one while the other is handed out.
async function* fileChunks(log: string): AsyncGenerator<Buffer> {
  const handle = await open(log, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
    let reading = handle.read(buffers[0]!, 0, CHUNK_BYTES, null);
    for (let turn = 0; ; turn ^= 1) {
      const { bytesRead, buffer } = await reading;
      if (bytesRead === 0) return;
      // Only once the caller asks for the next chunk is the one before it read into again.
      reading = handle.read(buffers[turn ^ 1]!, 0, CHUNK_BYTES, null);
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

const MAX_LINE_BYTES = 1 << 20;
const NEWLINE = 10;
const EMPTY = Buffer.alloc(0);

/**
 * Called with each line as a range of a larger buffer, so lines are never copied out one by one.
 * The bytes are only valid during the call: the buffer is read into again.
 */
export type LineSink = (bytes: Buffer, start: number, end: number) => void;

/**
 * Splits one log into lines, a chunk at a time: the caller decides when to read the next chunk,
 * which is how several logs are read in step and how memory stays bounded.
 */
export class LineReader {
  readonly log: string;
  private readonly chunks: AsyncIterator<Buffer | string>;
  // The start of a line the last chunk ended inside.
  private carry: Buffer = EMPTY;
  private ended = false;
  /** Lines dropped for being longer than any access line can be (a binary file, a runaway writer). */
  overlong = 0;
  // Set while the rest of an overlong line is being thrown away.
  private skipRest = false;

  constructor(log: string, chunks: AsyncIterable<Buffer | string>) {
    this.log = log;
    this.chunks = chunks[Symbol.asyncIterator]();
  }

  get done(): boolean {
    return this.ended;
  }

  /** Hands every whole line of the next chunk to `sink`; false once the log has ended. */
  async readChunk(sink: LineSink): Promise<boolean> {
    if (this.ended) return false;
    let next: IteratorResult<Buffer | string>;
    try {
      next = await this.chunks.next();
    } catch (err) {
      throw new LogReadError(this.log, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    if (next.done) {
      this.ended = true;
      if (this.carry.length > 0 && !this.skipRest) this.emit(this.carry, 0, this.carry.length, sink);
      this.carry = EMPTY;
      return false;
    }
    const bytes = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    let start = 0;
    if (this.skipRest || this.carry.length > 0) {
      // The line the last chunk ended inside. Only it is joined; the rest is read where it lies.
      const newline = bytes.indexOf(NEWLINE);
      if (newline < 0) {
        if (!this.skipRest) this.carry = Buffer.concat([this.carry, bytes]);
        this.dropIfOverlong();
        return true;
      }
      if (!this.skipRest) {
        const first = Buffer.concat([this.carry, bytes.subarray(0, newline)]);
        this.emit(first, 0, first.length, sink);
      }
      this.carry = EMPTY;
      this.skipRest = false;
      start = newline + 1;
    }
    for (;;) {
      const newline = bytes.indexOf(NEWLINE, start);
      if (newline < 0) break;
      this.emit(bytes, start, newline, sink);
      start = newline + 1;
    }
    // Copied: the chunk is read into again (and a short piece must not keep a whole chunk alive).
    this.carry = start === bytes.length ? EMPTY : Buffer.from(bytes.subarray(start));
    this.dropIfOverlong();
    return true;
  }

  /** One whole line, unless it is longer than the cap: measured whole, wherever the chunks split it. */
  private emit(bytes: Buffer, start: number, end: number, sink: LineSink): void {
    if (end - start > MAX_LINE_BYTES) this.overlong++;
    else emitLine(bytes, start, end, sink);
  }

  private dropIfOverlong(): void {
    if (this.carry.length <= MAX_LINE_BYTES) return;
    // Holding on to it would let one endless line take all the memory.
    this.overlong++;
    this.carry = EMPTY;
    this.skipRest = true;
  }
}

function emitLine(bytes: Buffer, start: number, end: number, sink: LineSink): void {
  // Lines written on Windows end in \r\n.
  const last = end > start && bytes[end - 1] === 13 ? end - 1 : end;
  if (last > start) sink(bytes, start, last);
}
