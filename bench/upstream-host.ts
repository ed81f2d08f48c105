/**
 * Child process that hosts the simulated backends, so their event loop never competes with the
 * load generator's. The parent drives it over IPC (see upstreams.ts).
 */
import { type Simulator, type SimulatorMode, type SimulatorOptions, startSimulator } from './simulator.js';

export type HostRequest =
  | { id: number; method: 'stats' }
  | { id: number; method: 'setMode'; index: number; mode: SimulatorMode }
  | { id: number; method: 'reset'; index?: number };

export type HostReply = { id: number; result?: unknown; error?: string };

export type SimulatorSpec = Partial<SimulatorOptions> & { name: string };

async function main(): Promise<void> {
  const specs = JSON.parse(process.argv[2] ?? '[]') as SimulatorSpec[];
  const simulators: Simulator[] = [];
  for (const spec of specs) simulators.push(await startSimulator(spec));
  process.on('message', (message: HostRequest) => {
    handle(simulators, message).then(
      (result) => process.send?.({ id: message.id, result } satisfies HostReply),
      (error: unknown) => process.send?.({ id: message.id, error: String(error) } satisfies HostReply),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, result: simulators.map((simulator) => simulator.url) } satisfies HostReply);
}

async function handle(simulators: Simulator[], message: HostRequest): Promise<unknown> {
  switch (message.method) {
    case 'stats':
      return simulators.map((simulator) => simulator.stats());
    case 'setMode':
      await simulators[message.index]?.setMode(message.mode);
      return null;
    case 'reset':
      for (const [index, simulator] of simulators.entries()) {
        if (message.index === undefined || message.index === index) simulator.reset();
      }
      return null;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
