import { describe, expect, it } from 'vitest';
import { type SurgeChange, SurgeDetector, type SurgeOptions } from '../../../src/admission/surge-detector.js';

const OPTIONS: SurgeOptions = { factor: 2, halfLifeMs: 60_000, minRps: 10, windowMs: 5000, baselineRps: 100 };
const STEP_MS = 10;

interface Transition {
  at: number;
  change: Exclude<SurgeChange, null>;
}

/**
 * Offers traffic at `rpsAt(t)` between `from` and `to` (ms) in 10 ms steps, ticking once a second,
 * and returns the transitions the detector reported. The current rate at each tick goes into `ticked`.
 */
function drive(
  detector: SurgeDetector,
  rpsAt: (t: number) => number,
  from: number,
  to: number,
  ticked: number[] = [],
): Transition[] {
  const transitions: Transition[] = [];
  let owed = 0;
  for (let now = from; now < to; now += STEP_MS) {
    owed += (rpsAt(now) * STEP_MS) / 1000;
    while (owed >= 1) {
      detector.record(now);
      owed -= 1;
    }
    if (now % 1000 === 0) {
      const change = detector.tick(now);
      ticked.push(detector.currentRps(now));
      if (change !== null) transitions.push({ at: now, change });
    }
  }
  return transitions;
}

/** A detector that has seen `rps` steadily for ten minutes, and the time it is at. */
function settled(rps: number, opts: SurgeOptions = OPTIONS): { detector: SurgeDetector; now: number } {
  const detector = new SurgeDetector(opts, 0);
  const now = 600_000;
  expect(drive(detector, () => rps, 0, now)).toEqual([]);
  return { detector, now };
}

describe('SurgeDetector', () => {
  it('starts from the configured baseline, not from zero or from the first seconds', () => {
    // A fresh detector reports its prior at once, and normal traffic at the prior is no surge.
    const detector = new SurgeDetector(OPTIONS, 0);
    expect(detector.baselineRps(0)).toBe(100);
    expect(drive(detector, () => 100, 0, 60_000)).toEqual([]);
    expect(detector.surging).toBe(false);
    expect(detector.baselineRps(60_000)).toBeCloseTo(100, 0);
  });

  it('sees a flood that starts with the gateway within the window plus one second', () => {
    // A gateway started (or restarted) in the middle of a 20x flood must not learn the flood.
    const detector = new SurgeDetector(OPTIONS, 0);
    const transitions = drive(detector, () => 2000, 0, 30_000);
    expect(transitions.map((t) => t.change)).toEqual(['began']);
    expect(transitions[0]!.at).toBeLessThanOrEqual(OPTIONS.windowMs + 1000);
    expect(detector.surging).toBe(true);
    // While surging the baseline learns ten times more slowly: 30 s of flood move it by a few percent.
    expect(detector.baselineRps(30_000)).toBeLessThan(200);
  });

  it('sees a 10x flood that follows three calm seconds after the start', () => {
    // Three seconds of calm traffic are not enough to make the cold start forget the flood that follows.
    const detector = new SurgeDetector(OPTIONS, 0);
    expect(drive(detector, () => 100, 0, 3000)).toEqual([]);
    const transitions = drive(detector, () => 1000, 3000, 20_000);
    expect(transitions.map((t) => t.change)).toEqual(['began']);
    expect(transitions[0]!.at - 3000).toBeLessThanOrEqual(OPTIONS.windowMs + 1000);
  });

  it('learns a calm baseline below the prior by EWMA, half the gap per half-life', () => {
    // Traffic at 20 req/s against a prior of 100 closes half the gap in one half-life.
    const detector = new SurgeDetector(OPTIONS, 0);
    expect(drive(detector, () => 20, 0, OPTIONS.halfLifeMs + 2000)).toEqual([]);
    expect(detector.baselineRps(OPTIONS.halfLifeMs + 1000)).toBeGreaterThan(55);
    expect(detector.baselineRps(OPTIONS.halfLifeMs + 1000)).toBeLessThan(65);
  });

  it('halves an idle baseline over one half-life', () => {
    // Seconds without traffic are samples of zero; after one half-life the baseline is halved.
    const { detector, now } = settled(100);
    const before = detector.baselineRps(now);
    expect(before).toBeCloseTo(100, 0);
    expect(detector.baselineRps(now + OPTIONS.halfLifeMs)).toBeCloseTo(before / 2, 0);
  });

  it('begins a surge within a few seconds of a 4x step', () => {
    // 100 -> 400 req/s crosses factor 2 as soon as the current window averages above 200.
    const { detector, now } = settled(100);
    const transitions = drive(detector, () => 400, now, now + 10_000);
    expect(transitions).toHaveLength(1);
    expect(transitions[0]!.change).toBe('began');
    expect(transitions[0]!.at - now).toBeLessThanOrEqual(3000);
    expect(detector.surging).toBe(true);
    expect(detector.currentRps(now + 10_000)).toBeCloseTo(400, -1);
  });

  it('ends a surge only after the rate has stayed below the exit threshold for a few seconds', () => {
    // After the step back to 100 req/s the surge ends once the last second has held calm for three seconds.
    const { detector, now } = settled(100);
    drive(detector, () => 400, now, now + 20_000);
    expect(detector.surging).toBe(true);
    const back = now + 20_000;
    const transitions = drive(detector, () => 100, back, back + 20_000);
    expect(transitions).toHaveLength(1);
    expect(transitions[0]!.change).toBe('ended');
    // The first calm second completes ~1 s after the drop, then three calm seconds must pass; the 5 s
    // window (which would keep the surge's seconds for 5 s more) does not hold it up.
    expect(transitions[0]!.at - back).toBeGreaterThanOrEqual(3000);
    expect(transitions[0]!.at - back).toBeLessThanOrEqual(5000);
  });

  it('does not flap while traffic hovers around the threshold', () => {
    // With a 1 s window the current rate crosses 200 every two seconds; one surge starts and stays.
    const opts = { ...OPTIONS, windowMs: 1000 };
    const { detector, now } = settled(100, opts);
    const hovering = (t: number) => (Math.floor((t - now) / 2000) % 2 === 0 ? 230 : 180);
    const currentRates: number[] = [];
    const transitions = drive(detector, hovering, now, now + 60_000, currentRates);
    expect(transitions.map((t) => t.change)).toEqual(['began']);
    // The detector really did see the rate on both sides of the entry threshold many times.
    expect(currentRates.filter((rate) => rate < 195).length).toBeGreaterThan(10);
    expect(currentRates.filter((rate) => rate > 205).length).toBeGreaterThan(10);
  });

  it('ignores a brief dip below the exit threshold during a surge', () => {
    // Two calm seconds are not enough to end a surge; the hold time resets when traffic returns.
    const { detector, now } = settled(100);
    drive(detector, () => 400, now, now + 10_000);
    const dips = (t: number) => ((t - now) % 8000 < 2000 ? 0 : 400);
    expect(drive(detector, dips, now + 10_000, now + 60_000)).toEqual([]);
    expect(detector.surging).toBe(true);
  });

  it('never reports a surge for traffic that stays under the threshold', () => {
    // 190 req/s against a baseline of 100 and factor 2 is busy, not a surge.
    const { detector, now } = settled(100);
    expect(drive(detector, () => 190, now, now + 30_000)).toEqual([]);
  });

  it('learns the baseline much more slowly while surging', () => {
    // The same minute of 400 req/s moves a surging baseline far less than a non-surging one.
    const surging = settled(100);
    const calm = settled(100, { ...OPTIONS, factor: 1000 });
    drive(surging.detector, () => 400, surging.now, surging.now + 60_000);
    drive(calm.detector, () => 400, calm.now, calm.now + 60_000);
    expect(surging.detector.surging).toBe(true);
    expect(calm.detector.surging).toBe(false);
    const surgingGain = surging.detector.baselineRps(surging.now + 60_000) - 100;
    const calmGain = calm.detector.baselineRps(calm.now + 60_000) - 100;
    // One half-life at normal speed covers about half the gap of 300; ten times slower covers under 7%.
    expect(calmGain).toBeGreaterThan(130);
    expect(surgingGain).toBeGreaterThan(0);
    expect(surgingGain).toBeLessThan(30);
  });

  it('treats traffic above minRps as a surge only against a quiet baseline', () => {
    // With a baseline near 0 the threshold is factor x minRps = 20 req/s.
    const { detector, now } = settled(2);
    expect(drive(detector, () => 15, now, now + 10_000)).toEqual([]);
    expect(drive(detector, () => 40, now + 10_000, now + 20_000).map((t) => t.change)).toEqual(['began']);
  });

  it('keeps the learned baseline and surge state across reconfigure', () => {
    // A reload changes the thresholds, not what has been learned.
    const { detector, now } = settled(100);
    drive(detector, () => 400, now, now + 10_000);
    const baseline = detector.baselineRps(now + 10_000);
    detector.reconfigure({ ...OPTIONS, factor: 5, windowMs: 2000 });
    expect(detector.baselineRps(now + 10_000)).toBe(baseline);
    expect(detector.surging).toBe(true);
    // At factor 5 the entry threshold is ~500, so 400 req/s is now below 0.8 x 500 and the surge ends.
    const transitions = drive(detector, () => 350, now + 10_000, now + 20_000);
    expect(transitions.map((t) => t.change)).toEqual(['ended']);
  });

  it('keeps its baseline, prior and minRps in the units of the share of traffic it sees', () => {
    // One of four processes: a prior of 100 becomes 25, and a quarter of a 4x flood is still a surge.
    const detector = new SurgeDetector(OPTIONS, 0);
    detector.setShare(0.25);
    expect(detector.baselineRps(0)).toBe(25);
    expect(drive(detector, () => 25, 0, 10_000)).toEqual([]);
    expect(drive(detector, () => 100, 10_000, 20_000).map((t) => t.change)).toEqual(['began']);
  });

  it('decides on a fresh shared reading and falls back to its own baseline when it goes stale', () => {
    // The group's whole-region numbers, scaled to this process's half, replace the local ones for 3 s.
    const detector = new SurgeDetector(OPTIONS, 0);
    detector.setShare(0.5);
    drive(detector, () => 50, 0, 5000);
    detector.adoptShared({ baselineRps: 100, currentRps: 400, lastSecondRps: 400 }, 5000);
    expect(detector.baselineRps(5000)).toBe(50);
    expect(detector.currentRps(5000)).toBe(200);
    expect(detector.tick(5000)).toBe('began');
    // Stale after 3 s: the local numbers (50 req/s against a baseline of 50) are back, and the surge ends.
    expect(drive(detector, () => 50, 5010, 20_000).map((t) => t.change)).toEqual(['ended']);
    expect(detector.currentRps(20_000)).toBeCloseTo(50, 0);
  });

  it('hands over what it counted since the last round exactly once', () => {
    // The shared baseline adds each process's offered requests; none may be counted twice.
    const detector = new SurgeDetector(OPTIONS, 0);
    for (let i = 0; i < 7; i++) detector.record(10);
    const first = detector.contribution();
    expect(first).toMatchObject({ offered: 7, priorRps: 100, surging: false, windowSeconds: 5 });
    expect(first.alpha).toBeCloseTo(1 - 2 ** (-1 / 60), 12);
    expect(detector.contribution().offered).toBe(0);
  });

  // Records on the last and first instants of a second are learned as the same counts as records
  // well inside it, second by second.
  it('files records at the edges of a second in the second they fall in', () => {
    const start = 1_700_000_000_000;
    const edges = new SurgeDetector(OPTIONS, start);
    const middles = new SurgeDetector(OPTIONS, start);
    for (let s = 1; s <= 6; s++) {
      const second = start + s * 1000;
      for (let k = 0; k < 40 * s; k++) edges.record(second);
      for (let k = 0; k < 40 * s; k++) middles.record(second + 1);
      for (let k = 0; k < 300 - 30 * s; k++) edges.record(second + 999.9997);
      for (let k = 0; k < 300 - 30 * s; k++) middles.record(second + 500);
    }
    const end = start + 7000;
    edges.tick(end);
    middles.tick(end);
    expect(edges.baselineRps(end)).toBeCloseTo(middles.baselineRps(end), 9);
    expect(edges.currentRps(end)).toBeCloseTo(middles.currentRps(end), 9);
    expect(edges.baselineRps(end)).not.toBeCloseTo(OPTIONS.baselineRps, 3);
  });
});
