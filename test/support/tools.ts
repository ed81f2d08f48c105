import { onPath } from '../../bench/processes.js';

/**
 * Whether a command-line tool some tests need is installed: for a describe-level condition. Under
 * CI=true a missing tool is an error, so the suite fails instead of passing without having run;
 * on a developer's machine those tests are skipped with a message saying how to install it.
 */
export function toolAvailable(command: string, debianPackage: string, what: string): boolean {
  if (onPath(command) !== undefined) return true;
  const hint = `${command} is not installed (apt-get install ${debianPackage})`;
  if (process.env.CI === 'true') throw new Error(`${hint}; the CI run installs it, see .ci/run`);
  console.warn(`skipping ${what}: ${hint}`);
  return false;
}
