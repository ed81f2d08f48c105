/**
 * One updating status line on a terminal (scenario, phase, elapsed of total, current rates);
 * plain lines, at most one every few seconds per phase, when the output is a file or a pipe.
 */
export class Progress {
  private scenario = '';
  private phase = '';
  private lastPlainLine = 0;
  private lineOpen = false;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly interactive = Boolean(process.stderr.isTTY),
  ) {}

  startScenario(name: string): void {
    this.scenario = name;
    this.phase = '';
    this.note(`${name}: starting`);
  }

  /** A new phase of the current scenario (a target, a load level, a failure). */
  startPhase(phase: string): void {
    this.phase = phase;
    this.lastPlainLine = 0;
    if (!this.interactive) this.writeLine(`${this.scenario}: ${phase}`);
  }

  update(elapsedMs: number, totalMs: number, rates: string): void {
    const text = `${this.scenario} | ${this.phase} | ${seconds(elapsedMs)}/${seconds(totalMs)} | ${rates}`;
    if (this.interactive) {
      const width = this.out.columns ?? 120;
      this.out.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
      this.lineOpen = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlainLine < 5000) return;
    this.lastPlainLine = now;
    this.writeLine(text);
  }

  note(text: string): void {
    this.writeLine(text);
  }

  private writeLine(text: string): void {
    if (this.lineOpen) {
      this.out.write('\r\x1b[2K');
      this.lineOpen = false;
    }
    this.out.write(`${text}\n`);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(0)}s`;
}
