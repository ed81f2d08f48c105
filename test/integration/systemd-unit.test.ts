import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { toolAvailable } from '../support/tools.js';

// The shipped systemd unit is one systemd accepts, and it gives the drain the time it needs.

const UNIT = 'deploy/floodgate.service';
const exec = promisify(execFile);

describe('deploy/floodgate.service', () => {
  // `systemd-analyze verify` reports no error and no warning (an unknown key is only a warning).
  it.runIf(toolAvailable('systemd-analyze', 'systemd', 'the systemd unit check'))(
    'passes systemd-analyze verify',
    async () => {
      const result = await exec('systemd-analyze', ['verify', UNIT], { timeout: 20_000 }).then(
        ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
        (err: { code?: number; stdout?: string; stderr?: string }) => ({
          code: err.code ?? -1,
          output: `${err.stdout ?? ''}${err.stderr ?? ''}`,
        }),
      );
      expect(result.output.trim()).toBe('');
      expect(result.code).toBe(0);
    },
  );

  // systemd's stop timeout outlasts the example config's drain delay plus grace period.
  it('stops no sooner than the drain takes', async () => {
    const unit = await readFile(UNIT, 'utf8');
    const seconds = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    const config = await loadConfigFile('config/gateway.yaml', { FLOODGATE_ADMIN_TOKEN: 't' });
    const drainMs = config.drainDelayMs + config.shutdownGraceMs;
    expect(seconds * 1000).toBeGreaterThan(drainMs);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
  });
});
