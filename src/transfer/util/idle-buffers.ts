/**
 * Idle reusable buffers that shrink to what current work uses. Buffers are taken from and given
 * back at the end, so the oldest sit at the front; every `idleMs` the ones that stayed idle
 * through the whole interval (the fewest idle seen since the last look) are let go. A list that
 * grew for a big transfer thus shrinks even while later work keeps it busy, and buffers are
 * freed once when demand drops, not churned (freeing and reallocating 4 MiB buffers mid-transfer
 * moves glibc's mmap threshold and leaves later ones on a heap that is not given back).
 */
export class IdleBuffers {
  private readonly free: Buffer[] = [];
  /** Fewest idle buffers since the last trim: that many sat unused for a whole interval. */
  private lowWater = 0;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param maxIdle most buffers kept
   * @param idleMs how often idle buffers that were not needed since the last look are let go
   * @param onDrop told of each buffer let go (given while full, or trimmed): shared memory that
   *   a worker may still wrap is reported so the workers collect (workers/shared-drops.ts)
   */
  constructor(private readonly maxIdle: number, private readonly idleMs: number, private readonly onDrop?: (buf: Buffer) => void) {}

  get count(): number {
    return this.free.length;
  }

  /** The most recently given idle buffer of exactly `size` bytes, if there is one. */
  take(size: number): Buffer | undefined {
    let k = this.free.length - 1;
    while (k >= 0 && this.free[k]!.length !== size) k--;
    if (k < 0) return undefined;
    const buf = k === this.free.length - 1 ? this.free.pop()! : this.free.splice(k, 1)[0]!;
    if (this.free.length < this.lowWater) this.lowWater = this.free.length;
    return buf;
  }

  /** Keep `buf` for reuse (dropped when `maxIdle` are kept already). */
  give(buf: Buffer): void {
    if (this.free.length >= this.maxIdle) {
      this.onDrop?.(buf);
      return;
    }
    this.free.push(buf);
    if (!this.timer) {
      this.lowWater = this.free.length;
      this.timer = setInterval(() => this.trim(), this.idleMs);
      this.timer.unref();
    }
  }

  private trim(): void {
    const dropped = this.free.splice(0, this.lowWater);
    if (this.onDrop) for (const buf of dropped) this.onDrop(buf);
    this.lowWater = this.free.length;
    if (this.free.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
