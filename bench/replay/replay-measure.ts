/**
 * `node dist/bench/replay/replay-measure.js CONFIG LOG`: replays LOG through CONFIG in this process
 * and prints one JSON object: lines read, wall and CPU time, peak RSS and the most requests held to
 * restore arrival order. Run as a child of its own so peak RSS is the replay's alone. For scale on
 * a machine whose speed is not known, it also times JSON.parse alone over the log's first lines.
 */
import { createReadStream } from 'node:fs';
import { loadConfigFile } from '../../src/config/load.js';
import { runReplay } from '../../src/replay/replay-driver.js';
import { summarize } from '../../src/replay/replay-summary.js';

const CALIBRATION_LINES = 200_000;

/** Lines per CPU second JSON.parse alone reads from the start of the log (only the parse is timed), and how many. */
async function jsonParseRate(log: string, lines: number): Promise<{ rate: number; lines: number }> {
  const batch: string[] = [];
  let carry = '';
  for await (const chunk of createReadStream(log, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop()!;
    for (const line of parts) if (line !== '' && batch.length < lines) batch.push(line);
    if (batch.length >= lines) break;
  }
  const cpuBefore = process.cpuUsage();
  let sink = 0;
  for (const line of batch) sink += (JSON.parse(line) as { durationMs: number }).durationMs > 0 ? 1 : 0;
  const cpu = process.cpuUsage(cpuBefore);
  const ms = (cpu.user + cpu.system) / 1000;
  return { rate: sink >= 0 ? (batch.length / ms) * 1000 : 0, lines: batch.length };
}

async function main(): Promise<void> {
  const [configPath, log] = process.argv.slice(2);
  if (configPath === undefined || log === undefined) throw new Error('usage: replay-measure CONFIG LOG');
  const config = await loadConfigFile(configPath);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const outcome = await runReplay({
    configs: [{ label: configPath, config }],
    logs: [log],
    perSecond: false,
  });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const summary = summarize(outcome, outcome.configs[0]!);
  // Read before the calibration, whose lines and objects would count as the replay's memory.
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  const calibration = await jsonParseRate(log, CALIBRATION_LINES);
  const result = {
    lines: summary.requests + summary.skipped,
    requests: summary.requests,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssBytes,
    peakBuffered: outcome.peakBuffered,
    late: outcome.late,
    jsonParseLinesPerSecond: calibration.rate,
    jsonParseLines: calibration.lines,
    regions: summary.regions,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
