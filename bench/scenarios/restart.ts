import type { Scenario, ScenarioContext, ScenarioOutput } from '../scenario.js';
import { joinTable, midSurgeTiming, runMidSurge, SURGING, surgingRegionTable } from './mid-surge.js';
import { REGION_RPS, siteFloodgateConfig } from './video-site.js';

/**
 * The gateway is restarted 3 s into a 12x surge of us-east: a new process starts with the same
 * config, the load moves to it once it is ready, and the old one is killed. The new process has
 * learned nothing; it must still see the surge (its baseline starts from the provisioned rate, not
 * from the flood) and keep us-east's critical traffic whole.
 */
export const restartScenario: Scenario = {
  name: 'restart',
  title: 'Gateway restarted in the middle of a surge',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const notes: string[] = [];
    context.progress.startPhase('floodgate');
    const run = await runMidSurge(context, siteFloodgateConfig, 'restart', notes);
    const { joinAtMs, phases } = midSurgeTiming(context.quick);
    return {
      data: { regionRps: REGION_RPS, joinAtMs, phases, run },
      tables: [surgingRegionTable(run, `${SURGING} by phase across the restart`), joinTable(run, 'Restart')],
      charts: [],
      notes: [
        `${SURGING} at 60% of its ${REGION_RPS} req/s, then 12x; us-west stays at 60%. A new Floodgate starts ${(joinAtMs - phases[0]!.durationMs) / 1000} s into the surge; once its /readyz answers, every request goes to it and the old process is killed (SIGKILL): the requests it still held fail and are counted apart ("lost at kill").`,
        'Surge reported: the first /admin/regions sample (every 250 ms) of the new process that shows us-east surging, timed from its start.',
        ...notes,
      ],
    };
  },
};
