import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedProcess, spawnCapturing } from '../support/spawn-capturing.js';
import { until } from '../support/wait.js';

// Builds the project the way `npm run demo` does, then runs the demo as a user would, in a shortened
// form, and reads what it printed.

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO = join(ROOT, 'dist/bench/demo.js');

function startDemo(seconds: number): CapturedProcess {
  return spawnCapturing(process.execPath, [DEMO, '--seconds', String(seconds)], { cwd: ROOT });
}

/** The named column of the final table's row for one region and kind, as a fraction. */
function summaryShare(output: string, region: string, kind: string, column: string): number {
  const lines = output.split('\n');
  const header = lines.find((line) => line.startsWith('| region'));
  expect(header, output).toBeDefined();
  const index = cells(header!).indexOf(column);
  expect(index, `no column ${column} in ${header}`).toBeGreaterThan(-1);
  const row = lines.map(cells).find((row) => row[0] === region && row[1] === kind);
  expect(row, `no ${region} ${kind} row in:\n${output}`).toBeDefined();
  return Number.parseFloat(row![index]!) / 100;
}

function cells(line: string): string[] {
  return line
    .split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());
}

describe('npm run demo', () => {
  let running: CapturedProcess | undefined;

  beforeAll(async () => {
    // Type errors in files being edited elsewhere still emit JavaScript; only a missing demo fails here.
    await new Promise<void>((done) =>
      execFile(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
        { cwd: ROOT, timeout: 90_000 },
        () => done(),
      ),
    );
    expect(existsSync(DEMO)).toBe(true);
  }, 120_000);

  afterEach(() => {
    if (running?.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
  });

  // A short replay exits 0, shows the dashboard URL, and keeps us-east's video up (notifications shed) in the surge.
  it('replays the surge and prints a summary in which us-east video stays served', async (test) => {
    running = startDemo(6);
    const code = await running.exited;
    const output = running.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(output).toMatch(/us-east: offered \d+\/s/);
    expect(output).toMatch(/^us-east surged 4x: video [\d.]+% served/m);
    const video = summaryShare(output, 'us-east', 'video', 'served surge');
    const notifications = summaryShare(output, 'us-east', 'notifications', 'served surge');
    // The order of priorities holds however busy the machine is.
    expect(video).toBeGreaterThanOrEqual(notifications);
    // On a machine too busy to run the gateway's event loop on time (the demo measures it and says
    // so) every request of every region is late alike, and the shares measure the machine instead.
    if (output.includes('Note: this machine was busy')) {
      test.skip('this machine was too busy for the demo to measure shares; rerun on a quieter one');
    }
    expect(video).toBeGreaterThanOrEqual(0.8);
    expect(video - notifications).toBeGreaterThanOrEqual(0.5);
  }, 30_000);

  // Ctrl-C in the middle of the replay stops the load, drains the gateway and exits 0 within seconds.
  it('stops cleanly and promptly on SIGINT', async () => {
    running = startDemo(60);
    const demo = running;
    await until(() => /us-east: offered \d+\/s/.test(demo.output()), 15_000, 'the live view');
    const interruptedAt = Date.now();
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    expect(code, demo.output()).toBe(0);
    expect(Date.now() - interruptedAt).toBeLessThan(10_000);
    expect(demo.output()).toContain('Gateway drained, simulators closed.');
  }, 30_000);
});
