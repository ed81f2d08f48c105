/**
 * Collects a streaming response body for the cache while it is forwarded, up to `maxBytes`. Once
 * the body is larger it lets go of everything it held and ignores the rest.
 */
export class BodyCapture {
  private chunks: Buffer[] | undefined = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** False once the body is over the bound (or after `finish`); the caller may stop pushing then. */
  push(chunk: Buffer): boolean {
    const chunks = this.chunks;
    if (chunks === undefined) return false;
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.chunks = undefined;
      return false;
    }
    chunks.push(chunk);
    return true;
  }

  /** The whole body, or undefined when it went over the bound. */
  finish(): Buffer | undefined {
    const chunks = this.chunks;
    if (chunks === undefined) return undefined;
    this.chunks = undefined;
    // A dedicated allocation: a slice of the shared pool, or a chunk that is a view into a larger
    // socket read, would keep far more memory alive than the cache accounts for.
    const body = Buffer.allocUnsafeSlow(this.bytes);
    let offset = 0;
    for (const chunk of chunks) offset += chunk.copy(body, offset);
    return body;
  }
}
