import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The full path of `command` on PATH, or undefined. */
export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Whether tests that need `command` can run: for a describe-level condition. Under CI=true a
 * missing tool is an error, so the suite fails instead of passing without having run; on a
 * developer's machine the tests are skipped with a message saying how to install it.
 */
export function toolAvailable(command: string, installHint: string): boolean {
  if (onPath(command) !== undefined) return true;
  const problem = `${command} is not installed (${installHint})`;
  if (process.env.CI === 'true') throw new Error(`${problem}; the CI run installs it, see .ci/run`);
  console.warn(`skipping the tests that need ${command}: ${problem}`);
  return false;
}
