import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogReadError } from '../../src/replay/log-input.js';
import { runReplay } from '../../src/replay/replay-driver.js';
import { summarize } from '../../src/replay/replay-summary.js';
import {
  accessLine,
  accessLog,
  type RequestSpec,
  replayConfig,
  replayText,
  requests,
} from '../support/access-log.js';

const CONFIG = { regions: { 'us-east': { capacity: { rps: 2, burst: 4, maxConcurrent: 3 } } } };

// Enough traffic for the bucket and the in-flight cap to refuse some of it, from two clients' gateways.
const TRAFFIC: RequestSpec[] = [
  ...requests(40, { at: 0, durationMs: 300 }, 50),
  ...requests(40, { at: 25, durationMs: 120 }, 50),
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'floodgate-replay-input-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function replayFiles(logs: string[]) {
  const outcome = await runReplay({
    configs: [{ label: 'c', config: replayConfig(CONFIG) }],
    logs,
    perSecond: false,
  });
  return summarize(outcome, outcome.configs[0]!);
}

describe('reading logs', () => {
  // A gzipped log (by its name) replays exactly like the plain one.
  it('reads gzip files by name', async () => {
    const plain = join(dir, 'access.log');
    const zipped = join(dir, 'access.log.gz');
    await writeFile(plain, accessLog(TRAFFIC));
    await writeFile(zipped, gzipSync(accessLog(TRAFFIC)));
    const fromPlain = await replayFiles([plain]);
    expect(fromPlain.requests).toBe(80);
    expect(fromPlain.regions['us-east']!.shed).not.toEqual({});
    expect(await replayFiles([zipped])).toEqual(fromPlain);
  });

  // Two instances' logs covering the same time are merged by time: the same result as one log of all of it.
  it('merges several logs in time order', async () => {
    const first = join(dir, 'gw-1.log');
    const second = join(dir, 'gw-2.log');
    await writeFile(first, accessLog(TRAFFIC.slice(0, 40)));
    await writeFile(second, accessLog(TRAFFIC.slice(40)));
    const together = await replayText(accessLog(TRAFFIC), [CONFIG]);
    expect(await replayFiles([first, second])).toEqual(summarize(together, together.configs[0]!));
  });

  // Each log's first client is a different address: the logs' clients are told apart by address
  // however they were numbered as each log was read.
  it('keeps the clients of several logs apart under client limits', async () => {
    const limited = {
      regions: { 'us-east': { capacity: { rps: 1000, burst: 1000, maxConcurrent: 100 } } },
      clientLimit: { key: 'ip', rps: 1, burst: 2 },
    };
    const byClient = (client: string, at: number) => requests(4, { at, durationMs: 1, client }, 10);
    const traffic = [...byClient('10.0.0.1', 0), ...byClient('10.0.0.2', 5)];
    const first = join(dir, 'clients-1.log');
    const second = join(dir, 'clients-2.log');
    await writeFile(first, accessLog(traffic.slice(0, 4)));
    await writeFile(second, accessLog(traffic.slice(4)));
    const outcome = await runReplay({
      configs: [{ label: 'c', config: replayConfig(limited) }],
      logs: [first, second],
      perSecond: false,
    });
    const east = summarize(outcome, outcome.configs[0]!).regions['us-east']!;
    expect(east.shed).toEqual({ 'client-rate': 4 });
    expect(east.admitted).toBe(4);
  });

  // The first region each log names is a different one: regions are told apart across logs too.
  it('keeps the regions of several logs apart', async () => {
    const regions = {
      regions: {
        'us-east': { capacity: { rps: 2, burst: 4, maxConcurrent: 3 } },
        'eu-west': { capacity: { rps: 1, burst: 2, maxConcurrent: 3 } },
      },
    };
    // With a priority, a client and bytes, the lines are in Floodgate's own layout, whose reader
    // numbers regions as it meets them.
    const east = requests(
      10,
      { at: 0, durationMs: 1, region: 'us-east', client: '10.0.0.1', priority: 'normal' },
      10,
    );
    const west = requests(
      10,
      { at: 5, durationMs: 1, region: 'eu-west', client: '10.0.0.2', priority: 'normal' },
      10,
    );
    const [first, second] = [join(dir, 'east.log'), join(dir, 'west.log')];
    const ownLayout = (specs: RequestSpec[]) => accessLog(specs).replaceAll('}\n', ',"bytes":2}\n');
    await writeFile(first, ownLayout(east));
    await writeFile(second, ownLayout(west));
    const outcome = await runReplay({
      configs: [{ label: 'c', config: replayConfig(regions) }],
      logs: [first, second],
      perSecond: false,
    });
    const byRegion = summarize(outcome, outcome.configs[0]!).regions;
    const together = await replayText(accessLog([...east, ...west]), [regions]);
    expect(byRegion).toEqual(summarize(together, together.configs[0]!).regions);
    expect(byRegion['us-east']!.admitted).not.toBe(byRegion['eu-west']!.admitted);
  });

  // Other lines are skipped and counted: events, blank-free junk, CRLF endings are fine, a last line without newline counts.
  it('skips and counts other lines', async () => {
    const text = [
      accessLine({ at: 0 }),
      JSON.stringify({
        level: 'warn',
        time: '2026-12-01T10:00:00.500Z',
        event: 'surge-began',
        region: 'us-east',
      }),
      'Floodgate listening on 127.0.0.1:8080',
      `${accessLine({ at: 1000 })}\r`,
      accessLine({ at: 2000, outcome: 'error', status: 400 }),
      accessLine({ at: 3000 }),
    ].join('\n');
    const outcome = await replayText(text, [CONFIG]);
    expect(summarize(outcome, outcome.configs[0]!)).toMatchObject({ requests: 3, skipped: 3 });
    expect(outcome.badInput).toBe(1);
  });

  // Paths with characters beyond ASCII still take their routes, whether the route prefix is ASCII or not.
  it('matches routes on paths beyond ASCII', async () => {
    const log = accessLog([
      { at: 0, path: '/café/1', durationMs: 5 },
      { at: 10, path: '/api/vidéo', durationMs: 5 },
    ]);
    const routes = [
      { match: { pathPrefix: '/café' }, priority: 'critical' },
      { match: { pathPrefix: '/api/vid' }, priority: 'low' },
    ];
    const outcome = await replayText(log, [{ ...CONFIG, routes }]);
    const byPriority = summarize(outcome, outcome.configs[0]!).regions['us-east']!.byPriority;
    expect(byPriority.critical.admitted).toBe(1);
    expect(byPriority.low.admitted).toBe(1);
    const asciiOnly = await replayText(log, [{ ...CONFIG, routes: routes.slice(1) }]);
    expect(summarize(asciiOnly, asciiOnly.configs[0]!).regions['us-east']!.byPriority.low.admitted).toBe(1);
  });

  // A line far longer than any access line is dropped and counted rather than held in memory.
  it('drops an overlong line', async () => {
    const file = join(dir, 'overlong.log');
    await writeFile(file, `${accessLine({ at: 0 })}\n${'x'.repeat(3 << 20)}\n${accessLine({ at: 5 })}\n`);
    expect(await replayFiles([file])).toMatchObject({ requests: 2, skipped: 1 });
  });

  // The cap holds for a line split over many chunks: it is measured whole, not piece by piece.
  it('drops an overlong line however the chunks split it', async () => {
    // A well-formed access line, only too long: read as a request unless the cap drops it.
    const long = accessLine({ at: 2, path: `/${'x'.repeat(1 << 20)}` });
    const text = `${accessLine({ at: 0 })}\n${long}\n${accessLine({ at: 5 })}\n`;
    const bytes = Buffer.from(text);
    const pieces = [
      bytes.subarray(0, 700_000),
      bytes.subarray(700_000, 1_400_000),
      bytes.subarray(1_400_000),
    ];
    const outcome = await runReplay({
      configs: [{ label: 'c', config: replayConfig(CONFIG) }],
      logs: ['-'],
      perSecond: false,
      stdin: Readable.from(pieces),
    });
    expect(outcome.skipped).toBe(1);
    expect(summarize(outcome, outcome.configs[0]!).requests).toBe(2);
  });

  // A log that is missing, a directory, or not gzip despite its name cannot be read.
  it.each([
    ['missing.log', undefined],
    ['.', undefined],
    ['fake.log.gz', 'not gzip at all'],
  ])('fails with LogReadError on %s', async (name, content) => {
    const file = name === '.' ? dir : join(dir, name);
    if (content !== undefined) await writeFile(file, content);
    await expect(replayFiles([file])).rejects.toBeInstanceOf(LogReadError);
  });
});
