import { afterAll, beforeAll, expect } from 'vitest';

/**
 * Registers hooks in the calling describe block that fail it when anything under test raised an
 * unhandled rejection or an uncaught exception, which a property test would otherwise miss.
 */
export function failOnStrayErrors(): void {
  const unexpected: unknown[] = [];
  const record = (reason: unknown) => unexpected.push(reason);
  beforeAll(() => {
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
  });
  afterAll(() => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
    expect(unexpected).toEqual([]);
  });
}
