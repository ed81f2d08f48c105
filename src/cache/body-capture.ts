/**
 * What the captures under way hold together, against one bound: each is bounded like an entry,
 * but a surge of large answers in flight at once would otherwise hold an entry's worth each, on
 * top of what the cache keeps.
 */
export interface CaptureBudget {
  held: number;
  readonly limit: number;
}

/**
 * Collects a streaming response body for the cache while it is forwarded, up to `maxBytes` and
 * while the captures under way together stay within their budget. Past either it lets go of
 * everything it held and ignores the rest.
 */
export class BodyCapture {
  private chunks: Buffer[] | undefined = [];
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly budget: CaptureBudget,
  ) {}

  /** False once the body is over a bound (or after `finish` or `abandon`); the caller may stop pushing then. */
  push(chunk: Buffer): boolean {
    const chunks = this.chunks;
    if (chunks === undefined) return false;
    const budget = this.budget;
    if (this.bytes + chunk.length > this.maxBytes || budget.held + chunk.length > budget.limit) {
      this.abandon();
      return false;
    }
    this.bytes += chunk.length;
    budget.held += chunk.length;
    chunks.push(chunk);
    return true;
  }

  /** Lets go of what it holds: the body will not be kept (cut short, or its exchange failed). */
  abandon(): void {
    if (this.chunks === undefined) return;
    this.chunks = undefined;
    this.budget.held -= this.bytes;
  }

  /** The whole body, or undefined when it went over a bound or was abandoned. */
  finish(): Buffer | undefined {
    const chunks = this.chunks;
    if (chunks === undefined) return undefined;
    this.abandon();
    // A dedicated allocation: a slice of the shared pool, or a chunk that is a view into a larger
    // socket read, would keep far more memory alive than the cache accounts for.
    const body = Buffer.allocUnsafeSlow(this.bytes);
    let offset = 0;
    for (const chunk of chunks) offset += chunk.copy(body, offset);
    return body;
  }
}
