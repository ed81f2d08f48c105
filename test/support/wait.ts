/** Polls `check` until it holds, failing after `timeoutMs` (generous: CI machines are busy). */
export function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`${what} not met within ${timeoutMs} ms`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}
