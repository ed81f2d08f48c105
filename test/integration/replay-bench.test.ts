import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// `npm run bench -- replay --quick` as users run it (on the build npm test makes first): it writes a
// result whose numbers make sense.

const ROOT = resolve(import.meta.dirname, '../..');
const RUN = join(ROOT, 'dist/bench/run.js');

describe('the replay benchmark', () => {
  let out: string | undefined;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('replays a synthetic log and reports throughput and memory', async () => {
    out = await mkdtemp(join(tmpdir(), 'floodgate-replay-bench-'));
    const output = await new Promise<string>((done, fail) =>
      execFile(
        process.execPath,
        [RUN, 'replay', '--quick', '--out', out!],
        { cwd: ROOT, timeout: 60_000 },
        (error, stdout, stderr) =>
          error ? fail(new Error(`${error.message}\n${stdout}\n${stderr}`)) : done(stdout),
      ),
    );
    expect(output).toContain('Replaying a synthetic access log');
    const file = (await readdir(out)).find((name) => name.endsWith('-replay.json'))!;
    const { data } = JSON.parse(await readFile(join(out, file), 'utf8')) as {
      data: {
        lines: number;
        measured: { lines: number; wallMs: number; maxRssBytes: number; peakBuffered: number };
      };
    };
    expect(data.measured.lines).toBe(data.lines);
    expect(data.measured.wallMs).toBeGreaterThan(0);
    expect(data.measured.maxRssBytes).toBeGreaterThan(10e6);
    // Bounded: the reorder buffer holds seconds of traffic, not the log.
    expect(data.measured.peakBuffered).toBeLessThan(data.lines / 2);
  });
});
