// JSON lines on stdout. The destination is asynchronous and batches writes, so a busy gateway does
// not block its event loop on the terminal or a slow log pipe; the price is that lines sit in a
// buffer until it fills or the logger is flushed, which shutdown must do.

import pino, { type DestinationStream, type Logger } from 'pino';

const STDOUT_FD = 1;
const BATCH_BYTES = 4096;
// Events an operator should notice even with the level raised to warn.
const WARN_EVENTS = new Set(['breaker-opened', 'reload-rejected', 'surge-began']);

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const stream = destination ?? pino.destination({ dest: STDOUT_FD, sync: false, minLength: BATCH_BYTES });
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
