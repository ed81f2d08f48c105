/**
 * `node dist/bench/replay/replay-measure.js CONFIG LOG`: replays LOG through CONFIG in this process
 * and prints one JSON object: lines read, wall and CPU time, peak RSS and the most requests held to
 * restore arrival order. Run as a child of its own so peak RSS is the replay's alone.
 */
import { loadConfigFile } from '../../src/config/load.js';
import { runReplay } from '../../src/replay/replay-driver.js';
import { summarize } from '../../src/replay/replay-summary.js';

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
  const result = {
    lines: summary.requests + summary.skipped,
    requests: summary.requests,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    peakBuffered: outcome.peakBuffered,
    late: outcome.late,
    regions: summary.regions,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
