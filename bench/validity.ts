/**
 * Checks that a run measured the system under test and not the bench: the load generator must
 * send on time, and it and the backends must not run out of their shared core.
 */
import type { PhaseCpu } from './cpu-sampler.js';
import type { LoadPhase, OpenLoopResult } from './open-loop.js';
import type { SimulatorStats } from './simulator.js';

/** The load generator and the backends share one core: past this share they, not the proxy, set the pace. */
export const SATURATED_PERCENT = 85;

export function saturationWarnings(target: string, usage: PhaseCpu[]): string[] {
  return usage
    .filter((phase) => phase.loadGenerator + phase.backends > SATURATED_PERCENT)
    .map(
      (phase) =>
        `${target}, ${phase.phase}: the load generator and backends used ${phase.loadGenerator + phase.backends}% of their core; the bench may have limited this phase.`,
    );
}

/** Below this share of its planned requests, a phase did not offer the load it claims. */
export const OFFERED_SHARE_WARNING = 0.95;

/**
 * Compares what each phase sent with what it planned (rate x duration). A busy machine can hold
 * the sending loop up; the requests due meanwhile are dropped, not sent in a burst, so the phase
 * offered less than its name says.
 */
export function offeredShortfallWarnings(
  target: string,
  phases: readonly LoadPhase[],
  load: OpenLoopResult,
): string[] {
  return phases.flatMap((phase, index) => {
    const rates = Object.values(phase.rates).filter((rate) => rate > 0);
    const planned = rates.reduce((sum, rate) => sum + (rate * phase.durationMs) / 1000, 0);
    const sent = Object.values(load.phases[index]?.streams ?? {}).reduce(
      (sum, counts) => sum + counts.sent,
      0,
    );
    // Each stream may leave a fraction of a request unsent at a phase boundary.
    const roundingAllowance = rates.length;
    if (planned === 0 || sent + roundingAllowance >= OFFERED_SHARE_WARNING * planned) return [];
    const stall = load.longestStallsMs[index] ?? 0;
    return [
      `${target}, ${phase.name}: the load generator sent ${Math.round((100 * sent) / planned)}% of the planned requests (longest stall ${stall} ms; a busy machine?).`,
    ];
  });
}

/** A backend whose timers ran this late was starved of CPU, so it served slower than modelled. */
export const BACKEND_LAG_WARNING_MS = 250;

export function backendLagWarnings(target: string, backends: readonly SimulatorStats[]): string[] {
  return backends
    .filter((backend) => backend.loopLagMaxMs > BACKEND_LAG_WARNING_MS)
    .map(
      (backend) =>
        `${target}: backend ${backend.name} ran its timers up to ${backend.loopLagMaxMs} ms late (p99 ${backend.loopLagP99Ms} ms); the machine starved it, so it served slower than modelled.`,
    );
}
