// JSON lines on stdout. The destination is asynchronous and batches writes in large chunks, so a
// busy gateway spends one write(2) on hundreds of access lines and never blocks its event loop on
// the terminal or a slow log pipe. The price is that lines sit in a buffer until it fills or the
// periodic flush runs (at least once a second), and shutdown must flush what is left.

import pino, { type DestinationStream, type Logger } from 'pino';

const STDOUT_FD = 1;
const BATCH_BYTES = 64 * 1024;
const MAX_WRITE_BYTES = 1024 * 1024;
const FLUSH_EVERY_MS = 1_000;
// Events an operator should notice even with the level raised to warn.
const WARN_EVENTS = new Set(['breaker-opened', 'reload-rejected', 'surge-began']);

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const stream =
    destination ??
    pino.destination({
      dest: STDOUT_FD,
      sync: false,
      minLength: BATCH_BYTES,
      maxWrite: MAX_WRITE_BYTES,
      periodicFlush: FLUSH_EVERY_MS,
    });
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
