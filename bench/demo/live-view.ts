import type { Writable } from 'node:stream';
import { KINDS } from '../traffic-mix.js';
import { type RegionSample, SHED_REASONS } from './live-sample.js';

const KIND_LABELS = { video: 'video', likes: 'likes', notifications: 'notif' } as const;
const COLUMNS = [
  'region',
  'offered/s',
  ...KINDS.map((kind) => KIND_LABELS[kind]),
  'shed rate/conc/surge/open',
  'stale',
  'zeros',
  'p99 ms',
  'breaker',
  'surging',
];

/**
 * The demo's running commentary. On a terminal a compact table is redrawn in place, with event
 * lines scrolling above it; into a file or a pipe every refresh becomes plain lines, one per region.
 */
export class LiveView {
  private drawnLines = 0;
  private lastDrawing = '';

  constructor(
    private readonly out: Writable & { columns?: number },
    private readonly interactive: boolean,
  ) {}

  show(heading: string, samples: readonly RegionSample[]): void {
    if (!this.interactive) {
      for (const sample of samples) this.out.write(`[${heading}] ${plainLine(sample)}\n`);
      return;
    }
    // A line wider than the terminal would wrap, and the redraw would then erase too few lines.
    const width = this.out.columns ? this.out.columns - 1 : Number.POSITIVE_INFINITY;
    const lines = [heading, ...alignColumns([COLUMNS, ...samples.map(tableRow)])].map((line) =>
      line.slice(0, width),
    );
    this.lastDrawing = `${lines.join('\n')}\n`;
    this.out.write(this.erase() + this.lastDrawing);
    this.drawnLines = lines.length;
  }

  /** A line that stays: printed above the live table, which is then drawn again below it. */
  note(text: string): void {
    if (!this.interactive) {
      this.out.write(`${text}\n`);
      return;
    }
    this.out.write(`${this.erase()}${text}\n${this.lastDrawing}`);
  }

  /** Leaves the last table on screen and lets later output follow it. */
  close(): void {
    this.drawnLines = 0;
    this.lastDrawing = '';
  }

  private erase(): string {
    return this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : '';
  }
}

function tableRow(sample: RegionSample): string[] {
  return [
    sample.region,
    String(sample.offeredRps),
    ...KINDS.map((kind) => percent(sample.served[kind])),
    SHED_REASONS.map((reason) => sample.shed[reason]).join('/'),
    String(sample.stale),
    String(sample.zeros),
    String(Math.round(sample.p99Ms)),
    sample.breaker,
    sample.surging ? 'SURGING' : 'no',
  ];
}

function plainLine(sample: RegionSample): string {
  const served = KINDS.map((kind) => `${kind} ${percent(sample.served[kind])}`).join(' ');
  const shed = SHED_REASONS.map((reason) => `${reason} ${sample.shed[reason]}`).join(' ');
  return (
    `${sample.region}: offered ${sample.offeredRps}/s; served ${served}; shed ${shed}; ` +
    `stale ${sample.stale}; zeros ${sample.zeros}; p99 ${Math.round(sample.p99Ms)} ms; ` +
    `breaker ${sample.breaker}${sample.surging ? '; surging' : ''}`
  );
}

/** Rounded down, so 99.6% never reads as a perfect 100%. */
function percent(fraction: number | undefined): string {
  return fraction === undefined ? '-' : `${Math.floor(fraction * 100)}%`;
}

function alignColumns(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  '),
  );
}
