/**
 * `npm run demo`: replays a regional surge against three simulated regions behind a gateway
 * running in this process, with a live view while it runs and a normal-vs-surge summary at the end.
 * `--seconds N` (or DEMO_SECONDS) shortens or stretches the replay; `--access-log FILE` also writes
 * the gateway's log lines, access lines included, to FILE (for `floodgate replay`); Ctrl-C stops it cleanly.
 */
import { performance } from 'node:perf_hooks';
import { watchForBusyMachine } from './demo/busy-machine.js';
import { type GatewayEvent, startDemoGateway } from './demo/demo-gateway.js';
import { startDemoLoad } from './demo/demo-load.js';
import {
  CLIENT_TIMEOUT_MS,
  DEMO_BACKEND,
  DEMO_REGIONS,
  type DemoPlan,
  demoPlan,
  demoSeconds,
  NORMAL_RPS,
  phaseAt,
  SURGE_FACTOR,
  SURGING_REGION,
} from './demo/demo-plan.js';
import { FINAL_TABLE_NOTE, finalTable, storyLine } from './demo/final-summary.js';
import { sampleRegions } from './demo/live-sample.js';
import { LiveView } from './demo/live-view.js';
import { type Simulator, startSimulator } from './simulator.js';
import { markdownTable } from './table.js';

const LEGEND =
  'served: correct answers in the last second (fresh or stale). shed (by reason), stale and zeros: ' +
  'since the start (likes that were shed are answered stale when a copy is kept). ' +
  "p99: the gateway's upstream latency.";

/** Things to undo on the way out, undone in reverse order of starting. */
class Teardown {
  private readonly steps: Array<() => Promise<void> | void> = [];

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step();
    this.steps.length = 0;
  }
}

/** Resolves on the first Ctrl-C (or SIGTERM); later ones are ignored while the demo winds down. */
function interruption(): { readonly requested: () => boolean; readonly signalled: Promise<undefined> } {
  let requested = false;
  const signalled = new Promise<undefined>((resolve) => {
    const stop = () => {
      requested = true;
      resolve(undefined);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return { requested: () => requested, signalled };
}

async function main(): Promise<number> {
  const plan = demoPlan(demoSeconds(process.argv.slice(2), process.env));
  const stop = interruption();
  const out = process.stdout;
  const view = new LiveView(out, Boolean(out.isTTY));
  const teardown = new Teardown();
  let loadStartedAt = performance.now();
  const log = (text: string) => view.note(text);
  try {
    const simulators = await startSimulators();
    teardown.add(() => closeSimulators(simulators));
    if (stop.requested()) return interrupted(log);
    const gateway = await startDemoGateway(
      simulators,
      (event) => log(eventLine(event, performance.now() - loadStartedAt)),
      optionValue(process.argv.slice(2), '--access-log'),
    );
    teardown.add(() => gateway.close());
    if (stop.requested()) return interrupted(log);
    const dashboard = `${gateway.running.adminUrl}/`;
    log(introduction(plan, gateway.running.publicUrl, dashboard));

    loadStartedAt = performance.now();
    const busyMachineNote = watchForBusyMachine();
    const load = startDemoLoad({
      url: gateway.running.publicUrl,
      streams: plan.streams,
      phases: plan.phases,
      timeoutMs: CLIENT_TIMEOUT_MS,
    });
    teardown.add(() => load.stop());
    const refresh = () =>
      view.show(
        heading(plan, performance.now() - loadStartedAt, dashboard, Boolean(out.isTTY)),
        sampleRegions(DEMO_REGIONS, load, gateway.running.view, simulators),
      );
    const ticker = setInterval(refresh, out.isTTY ? 1000 : 2000);
    teardown.add(() => clearInterval(ticker));

    const phases = await Promise.race([load.finished, stop.signalled]);
    if (phases === undefined) return interrupted(log);
    clearInterval(ticker);
    view.close();
    out.write(`\n${markdownTable(finalTable(phases, DEMO_REGIONS))}\n\n${FINAL_TABLE_NOTE}\n\n`);
    out.write(`${storyLine(phases, DEMO_REGIONS)}\n`);
    out.write(busyMachineNote());
    return 0;
  } finally {
    await teardown.run();
    if (stop.requested()) out.write('Gateway drained, simulators closed.\n');
  }
}

async function startSimulators(): Promise<Map<string, Simulator>> {
  const simulators = new Map<string, Simulator>();
  try {
    for (const region of DEMO_REGIONS)
      simulators.set(region, await startSimulator({ name: region, ...DEMO_BACKEND }));
  } catch (error) {
    await closeSimulators(simulators);
    throw error;
  }
  return simulators;
}

async function closeSimulators(simulators: ReadonlyMap<string, Simulator>): Promise<void> {
  await Promise.all([...simulators.values()].map((simulator) => simulator.close()));
}

function introduction(plan: DemoPlan, publicUrl: string, dashboard: string): string {
  const [warmUp, normal, surge, after] = plan.phases.map((phase) => seconds(phase.durationMs));
  return [
    `Floodgate demo: regions ${DEMO_REGIONS.join(', ')}, each a simulated backend of about 250 req/s.`,
    `Gateway:   ${publicUrl}`,
    `Dashboard: ${dashboard}`,
    `Replay (${plan.totalSeconds} s): ${warmUp} warm-up, ${normal} normal at ${NORMAL_RPS} req/s per region ` +
      `(video critical, likes normal and cacheable, notifications low), then ${surge} with ${SURGING_REGION} ` +
      `at ${SURGE_FACTOR}x, then ${after} normal again. Ctrl-C stops.`,
    LEGEND,
    '',
  ].join('\n');
}

function heading(plan: DemoPlan, elapsedMs: number, dashboard: string, interactive: boolean): string {
  const phase = phaseAt(plan.phases, elapsedMs).name;
  const what =
    phase === 'surge' ? `${SURGING_REGION} at ${SURGE_FACTOR}x` : phase === 'after' ? 'normal again' : phase;
  const clock = `${Math.round(Math.min(elapsedMs, plan.totalSeconds * 1000) / 1000)} s`;
  return interactive
    ? `${clock} of ${plan.totalSeconds} s, ${what}   dashboard ${dashboard}`
    : `${clock}, ${what}`;
}

function eventLine(event: GatewayEvent, elapsedMs: number): string {
  const rates =
    event.currentRps === undefined
      ? ''
      : ` (${Math.round(event.currentRps)} req/s offered, baseline ${Math.round(event.baselineRps ?? 0)} req/s)`;
  return `[${seconds(elapsedMs)}] ${event.region ?? 'gateway'}: ${event.event.replace('-', ' ')}${rates}`;
}

function optionValue(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index === -1 ? undefined : argv[index + 1];
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

function interrupted(log: (text: string) => void): number {
  log('Interrupted: stopping the load, draining the gateway.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
