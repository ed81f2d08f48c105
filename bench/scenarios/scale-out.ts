import type { RegionUpstreams } from '../peers/region-router.js';
import { onPath } from '../processes.js';
import { startRedis } from '../redis.js';
import type { Scenario, ScenarioContext, ScenarioOutput } from '../scenario.js';
import { joinTable, midSurgeTiming, runMidSurge, SURGING, surgingRegionTable } from './mid-surge.js';
import { REGION_RPS, siteFloodgateConfig } from './video-site.js';

/**
 * One gateway with `cluster.redis` serves the site; 3 s into a 12x surge of us-east a second
 * instance with the same config joins it, and the load is spread over both. The two share the
 * region limits and the learned surge baselines through Redis: the newcomer must see the surge
 * within a few seconds, and us-east's users must not notice the change.
 */
export const scaleOutScenario: Scenario = {
  name: 'scale-out',
  title: 'Scale-out in the middle of a surge (Redis-shared limits and baselines)',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    if (!onPath('redis-server'))
      throw new Error('redis-server is not installed (apt-get install redis-server)');
    const redis = await startRedis();
    try {
      const notes: string[] = [];
      const configFor = (upstreams: RegionUpstreams) => ({
        ...siteFloodgateConfig(upstreams),
        cluster: { redis: redis.url, instances: 2 },
      });
      context.progress.startPhase('floodgate pair');
      const run = await runMidSurge(context, configFor, 'scale-out', notes);
      const { joinAtMs, phases } = midSurgeTiming(context.quick);
      return {
        data: { regionRps: REGION_RPS, joinAtMs, phases, run },
        tables: [
          surgingRegionTable(run, `${SURGING} by phase across the scale-out`),
          joinTable(run, 'Scale-out'),
        ],
        charts: [],
        notes: [
          `${SURGING} at 60% of its ${REGION_RPS} req/s, then 12x; us-west stays at 60%. Both instances run with cluster.redis (instances: 2). The second starts ${(joinAtMs - phases[0]!.durationMs) / 1000} s into the surge; once its /readyz answers, requests alternate between the two.`,
          "Surge reported: the first /admin/regions sample (every 250 ms) of the new instance that shows us-east surging, timed from its start. Baselines are each instance's own figure (its share of the region's; the group's shared one, scaled).",
          ...notes,
        ],
      };
    } finally {
      await redis.kill();
    }
  },
};
