/**
 * Child process that runs one simulated backend, as a real backend has its own machine: an
 * overloaded region's event loop never delays another region's answers. The parent drives it
 * over IPC (see upstreams.ts).
 */
import { type SimulatorMode, type SimulatorOptions, startSimulator } from './simulator.js';

export type HostRequest =
  | { id: number; method: 'stats' }
  | { id: number; method: 'setMode'; mode: SimulatorMode }
  | { id: number; method: 'setServiceMs'; ms: number }
  | { id: number; method: 'reset' };

export type HostReply = { id: number; result?: unknown; error?: string };

export type SimulatorSpec = Partial<SimulatorOptions> & { name: string };

async function main(): Promise<void> {
  const simulator = await startSimulator(JSON.parse(process.argv[2] ?? '{}') as SimulatorSpec);
  const handle = async (message: HostRequest): Promise<unknown> => {
    switch (message.method) {
      case 'stats':
        return simulator.stats();
      case 'setMode':
        await simulator.setMode(message.mode);
        return null;
      case 'setServiceMs':
        simulator.setServiceMs(message.ms);
        return null;
      case 'reset':
        simulator.reset();
        return null;
    }
  };
  process.on('message', (message: HostRequest) => {
    handle(message).then(
      (result) => process.send?.({ id: message.id, result } satisfies HostReply),
      (error: unknown) => process.send?.({ id: message.id, error: String(error) } satisfies HostReply),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, result: simulator.url } satisfies HostReply);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
