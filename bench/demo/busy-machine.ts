import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
// The backends' service time is ~40 ms: an event loop often this late (p99) slows every region's
// requests by about as much as the backends themselves take, and one stall this long can outlast
// a counts lookup's deadline and turn it into a zero.
const BUSY_P99_MS = 30;
const BUSY_LONGEST_MS = 100;

/**
 * The gateway and the simulated backends share this process's event loop, so a machine too busy
 * to run it on time slows every region at once and the demo's numbers then describe the machine.
 * Starts watching how late the loop runs; the returned function stops and says whether to warn.
 */
export function watchForBusyMachine(): () => string {
  const delays = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delays.enable();
  return () => {
    delays.disable();
    const p99 = delays.percentile(99) / 1e6 - RESOLUTION_MS;
    const longest = delays.max / 1e6 - RESOLUTION_MS;
    if (p99 < BUSY_P99_MS && longest < BUSY_LONGEST_MS) return '';
    return (
      `Note: this machine was busy: the event loop shared by the gateway and the backends ran up to ` +
      `${Math.round(longest)} ms late (p99 ${Math.round(p99)} ms), which slows every region alike. ` +
      'Run the demo again on a quieter machine for cleaner numbers.\n'
    );
  };
}
