import type { ReplayOutcome } from './replay-driver.js';

// The pieces every text report shares: aligned columns, number formats, the heading and the notes.

/** Rows as aligned columns: the first left-aligned, the rest right-aligned, two spaces apart. */
export function columns(rows: ReadonlyArray<ReadonlyArray<string>>, indent = ''): string {
  const widths: number[] = [];
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

function requestCount(n: number): string {
  return `${count(n)} ${n === 1 ? 'request' : 'requests'}`;
}

export function share(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((part / whole) * 100).toFixed(1)}%`;
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s).toLocaleString('en-US')} s`;
}

/** The first lines of every report: what was replayed, over which span of log time. */
export function heading(outcome: ReplayOutcome, requests: number, logs: readonly string[]): string[] {
  const span = Number.isNaN(outcome.firstArrival)
    ? 'no requests'
    : `${new Date(outcome.firstArrival).toISOString()} to ${new Date(outcome.lastArrival).toISOString()} (${seconds(outcome.lastArrival - outcome.firstArrival)} of log time)`;
  const lines = [`replayed ${count(requests)} requests from ${logs.join(', ')}: ${span}`];
  const skipped = [
    `${count(outcome.skipped)} lines skipped (not access lines, or answered before admission)`,
  ];
  if (outcome.badInput > 0)
    skipped.push(`of which ${count(outcome.badInput)} were requests refused as bad input before admission`);
  lines.push(skipped.join(', '));
  return lines;
}

/**
 * How fast the replay ran, for standard error: lines read per second of wall time and, when it
 * beat the log's own pace, by how much. Kept out of the report so that the report is the same
 * from run to run.
 */
export function speedNote(outcome: ReplayOutcome, requests: number, wallMs: number): string {
  const lines = requests + outcome.skipped;
  const ms = Math.max(wallMs, 1);
  const rate = Math.round((lines / ms) * 1000);
  const span = Number.isNaN(outcome.firstArrival) ? 0 : outcome.lastArrival - outcome.firstArrival;
  const faster = span / ms >= 2 ? `, ${count(Math.round(span / ms))} times faster than real time` : '';
  const took = wallMs < 1000 ? `${Math.round(wallMs)} ms` : seconds(wallMs);
  return `replay took ${took}: ${count(rate)} lines per second${faster}`;
}

/** The closing notes: what replay does not model, and anything odd about this log. */
export function footnotes(outcome: ReplayOutcome): string[] {
  const notes = [
    'Not replayed: breakers, failover and stale copies (they depend on how the upstreams answered).',
  ];
  if (outcome.late > 0) {
    notes.push(
      `${requestCount(outcome.late)} lasted longer than the reorder window and ${outcome.late === 1 ? 'was' : 'were'} replayed slightly after their arrival.`,
    );
  }
  for (const config of outcome.configs) {
    const prefix = outcome.configs.length > 1 ? `${config.label}: ` : '';
    for (const note of config.notReplayed) notes.push(`${prefix}${note}.`);
    if (config.withoutClient > 0)
      notes.push(
        `${prefix}${requestCount(config.withoutClient)} had no logged client: their client limit was not checked.`,
      );
    for (const [name, n] of config.remapped)
      notes.push(
        `${prefix}${requestCount(n)} of region ${name}, which the config does not have, ${n === 1 ? 'was' : 'were'} replayed in routing.default.`,
      );
  }
  return notes;
}
