// JSON lines on stdout, batched in this process and written asynchronously. SonicBoom (pino's
// destination) measures the byte length of its whole pending buffer on every write, so handing it
// one line at a time costs microseconds per line under load; here lines are collected as strings
// and handed over in batches of about 64 KiB, or once a second when fewer arrive. Event lines and
// access lines share the one batch, so their order is kept. Shutdown must flush what is left.

import pino, { type DestinationStream, type Logger } from 'pino';

const STDOUT_FD = 1;
const BATCH_CHARS = 64 * 1024;
const FLUSH_EVERY_MS = 1_000;
// Events an operator should notice even with the level raised to warn.
const WARN_EVENTS = new Set(['breaker-opened', 'reload-rejected', 'surge-began']);

export type { Logger };

type SonicBoom = ReturnType<typeof pino.destination>;

class LineBatcher implements DestinationStream {
  private parts: string[] = [];
  private chars = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sink: SonicBoom,
    private readonly maxChars: number,
  ) {
    this.timer = setInterval(() => this.handOver(), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  write(line: string): boolean {
    // A batch never grows past maxChars by a line, so a bound on writes (PIPE_BUF) holds.
    if (this.chars + line.length > this.maxChars) this.handOver();
    this.parts.push(line);
    this.chars += line.length;
    return true;
  }

  flush(done?: (err?: Error) => void): void {
    this.handOver();
    this.sink.flush(done ?? noop);
  }

  flushSync(): void {
    this.handOver();
    this.sink.flushSync();
  }

  private handOver(): void {
    if (this.parts.length === 0) return;
    const batch = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.chars = 0;
    this.sink.write(batch);
  }
}

function noop(): void {}

/**
 * The batching destination: stdout by default, or another file descriptor or path. `maxChars`
 * bounds one write (batches hold whole lines).
 */
export function batchedDestination(
  dest: number | string = STDOUT_FD,
  maxChars = BATCH_CHARS,
): DestinationStream {
  return new LineBatcher(pino.destination({ dest, sync: false }), maxChars);
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const stream = destination ?? batchedDestination();
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/**
 * One line per lifecycle event with a stable `event` field (breaker-opened, breaker-half-open,
 * breaker-closed, surge-began, surge-ended, reload-applied, reload-rejected, shutdown-began...),
 * so operators can alert on it without parsing messages.
 */
export function logEvent(logger: Logger, event: string, fields: object): void {
  if (WARN_EVENTS.has(event)) logger.warn({ ...fields, event }, event);
  else logger.info({ ...fields, event }, event);
}

export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.flush(() => resolve());
  });
}
