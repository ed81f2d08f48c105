import type { Scenario } from '../scenario.js';
import { adaptiveScenario } from './adaptive.js';
import { clusterScenario } from './cluster.js';
import { curveScenario } from './curve.js';
import { outageScenario } from './outage.js';
import { overheadScenario } from './overhead.js';
import { replayScenario } from './replay.js';
import { restartScenario } from './restart.js';
import { scaleOutScenario } from './scale-out.js';
import { shedScenario } from './shed.js';
import { surgeScenario } from './surge.js';
import { tlsScenario } from './tls.js';

/** Every scenario, in the order a full run takes them. */
export const SCENARIOS: readonly Scenario[] = [
  overheadScenario,
  shedScenario,
  surgeScenario,
  outageScenario,
  restartScenario,
  scaleOutScenario,
  curveScenario,
  clusterScenario,
  adaptiveScenario,
  tlsScenario,
  replayScenario,
];
