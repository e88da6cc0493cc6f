/**
 * Reusable payload buffers for big received frames (CHUNK, BATCH_DATA). A received chunk is
 * read straight into one of these and written to disk from it, so a steady transfer neither
 * allocates (and page-faults in) a fresh multi-megabyte buffer per chunk nor leaves the
 * garbage collector thousands of socket-sized buffers to trace. A buffer nobody gives back
 * is simply collected: giving back is an optimisation, never a duty. Idle buffers that no
 * work needed for a while are let go, so an agent does not sit on more than it uses.
 */
export class FrameBufferPool {
  private readonly free: Buffer[] = [];
  /** Fewest idle buffers since the last trim: that many sat unused for a whole interval. */
  private lowWater = 0;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param capacity bytes of each pooled buffer; bigger payloads get a buffer of their own
   * @param maxIdle most buffers kept for reuse
   * @param idleMs every this often, idle buffers that were not needed since the last look are let go
   */
  constructor(readonly capacity: number, private readonly maxIdle: number, private readonly idleMs = 2000) {}

  /** A buffer of exactly `length` bytes (contents undefined) and the function that gives it back. */
  take(length: number): { buf: Buffer; release: () => void } {
    if (length > this.capacity) return { buf: Buffer.allocUnsafe(length), release: noop };
    const whole = this.free.pop() ?? Buffer.allocUnsafe(this.capacity);
    if (this.free.length < this.lowWater) this.lowWater = this.free.length;
    let given = false;
    return {
      buf: whole.subarray(0, length),
      release: () => {
        // Twice would hand one buffer to two frames.
        if (given) return;
        given = true;
        this.give(whole);
      },
    };
  }

  get idle(): number {
    return this.free.length;
  }

  private give(whole: Buffer): void {
    if (this.free.length >= this.maxIdle) return;
    this.free.push(whole);
    if (!this.timer) {
      this.lowWater = this.free.length;
      this.timer = setInterval(() => this.trim(), this.idleMs);
      this.timer.unref();
    }
  }

  /**
   * Let go of the buffers that stayed idle through the whole interval (the oldest ones: buffers
   * are taken from and given back at the end). A pool that grew for a big transfer shrinks to
   * what the current work uses, even while that work keeps the pool busy (a small-file transfer
   * after a 2 GiB one used to carry the big one's buffers along).
   */
  private trim(): void {
    this.free.splice(0, this.lowWater);
    this.lowWater = this.free.length;
    if (this.free.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

function noop(): void {}

/** Payloads up to this size are plain allocations (control frames, tiny chunks in tests). */
export const POOLED_FRAME_MIN = 64 * 1024;

/**
 * Shared by every stream of the process. Sized for the default 4 MiB chunk plus its headers;
 * at most 16 idle buffers (64 MiB, about what a session's streams hold in flight: per stream one
 * being read, one queued, one being written) are kept; those
 * unused for 2 s go. A smaller cap looked leaner but measured worse: buffers freed and allocated
 * again mid-transfer raise glibc's mmap threshold, later 4 MiB buffers then come from the heap,
 * which is not given back (case b after case a peaked at 269-307 MB with 8 idle, 245-269 MB
 * with 24). Trimming only what stayed unused for a whole interval frees buffers once, when the
 * demand has dropped, not in a churn.
 */
export const sharedFramePool = new FrameBufferPool(4 * 1024 * 1024 + 64, 16);
