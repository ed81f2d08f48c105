/**
 * Whether a region has lately run short of a resource (tokens or in-flight slots): one of its own
 * requests was refused for lack of it within the last `memoryMs`. While it is short, the reserves
 * apply in full and lower priorities go first; otherwise idle capacity is lent to whoever asks (see
 * region-admission.ts). The memory keeps a flood that is being refused from borrowing the reserve
 * back the moment a slot or token frees up.
 */
export class Shortage {
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly memoryMs: number) {}

  note(now: number): void {
    this.lastAt = now;
  }

  active(now: number): boolean {
    return now - this.lastAt < this.memoryMs;
  }
}
