// The last resort. An exception nothing caught, or a rejected promise nobody handled, leaves the
// process in a state nobody reasoned about; Node would print a stack on stderr and exit, which a log
// pipeline reading JSON lines on stdout never sees. Instead: one `fatal` JSON line with the stack,
// then exit 1. Everything here is synchronous, because an asynchronous write is lost with the exit:
// first what the loggers still buffer, then the fatal line itself.

import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

const STDOUT_FD = 1;
const EXIT_FATAL = 1;

interface SyncFlushable {
  flushSync?: () => void;
}

const loggers = new Set<Logger>();
let extraFields: object = {};

/** Lines this logger still buffers are written out before the fatal line. */
export function flushOnFatal(logger: Logger): void {
  loggers.add(logger);
}

export function forgetOnFatal(logger: Logger): void {
  loggers.delete(logger);
}

/** Installs the handlers once per process (an entry point's job, never a library's). */
export function installFatalHandler(fields: object = {}): void {
  extraFields = fields;
  process.on('uncaughtException', (err) => die('uncaughtException', err));
  process.on('unhandledRejection', (reason) => die('unhandledRejection', reason));
}

/** Writes the fatal line for `reason` now, without exiting (for an entry point's own last catch). */
export function writeFatal(kind: string, reason: unknown): void {
  for (const logger of loggers) {
    try {
      const stream = (logger as unknown as Record<symbol, SyncFlushable | undefined>)[pino.symbols.streamSym];
      stream?.flushSync?.();
    } catch {
      // A destination in the middle of a write cannot flush; the fatal line matters more.
    }
  }
  writeSync(STDOUT_FD, `${fatalLine(kind, reason)}\n`);
}

export function fatalLine(kind: string, reason: unknown): string {
  const err = reason instanceof Error ? reason : undefined;
  return JSON.stringify({
    level: 'fatal',
    time: new Date().toISOString(),
    ...extraFields,
    event: 'fatal',
    kind,
    pid: process.pid,
    message: err?.message ?? String(reason),
    stack: err?.stack ?? null,
  });
}

function die(kind: string, reason: unknown): never {
  try {
    writeFatal(kind, reason);
  } finally {
    process.exit(EXIT_FATAL);
  }
}
