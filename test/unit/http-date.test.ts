import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpDate } from '../../src/http/http-date.js';

describe('httpDate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // An IMF-fixdate of the current second (RFC 9110 §5.6.7), kept for the rest of that second only.
  it('follows the clock second by second', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 1, 10, 0, 0, 500) });
    expect(httpDate()).toBe('Tue, 01 Dec 2026 10:00:00 GMT');
    vi.advanceTimersByTime(499);
    expect(httpDate()).toBe('Tue, 01 Dec 2026 10:00:00 GMT');
    vi.advanceTimersByTime(1);
    expect(httpDate()).toBe('Tue, 01 Dec 2026 10:00:01 GMT');
    vi.setSystemTime(Date.UTC(2027, 0, 3, 23, 59, 59));
    expect(httpDate()).toBe('Sun, 03 Jan 2027 23:59:59 GMT');
  });
});
