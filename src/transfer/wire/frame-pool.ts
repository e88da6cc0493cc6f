import { CHUNK_HEADER_BYTES } from '../../protocol/data-frames.js';
import { allocPreferAligned, DIRECT_IO_ALIGN } from '../util/aligned-buffers.js';
import { IdleBuffers } from '../util/idle-buffers.js';

/**
 * Reusable payload buffers for big received frames (CHUNK, BATCH_DATA). A received chunk is
 * read straight into one of these and written to disk from it, so a steady transfer neither
 * allocates (and page-faults in) a fresh multi-megabyte buffer per chunk nor leaves the
 * garbage collector thousands of socket-sized buffers to trace. A buffer nobody gives back
 * is simply collected: giving back is an optimisation, never a duty. Idle buffers that no
 * work needed for a while are let go, so an agent does not sit on more than it uses.
 */
export class FrameBufferPool {
  private readonly spare: IdleBuffers;
  /** Bytes before a payload's start in its pooled buffer (see alignAt). */
  private readonly prefix: number;
  private readonly alloc: (size: number) => Buffer;

  /**
   * @param capacity bytes of each pooled buffer; bigger payloads get a buffer of their own
   * @param maxIdle most buffers kept for reuse
   * @param idleMs every this often, idle buffers that were not needed since the last look are let go
   * @param alignAt when given, pooled buffers are page-aligned and placed so that byte `alignAt`
   *   of a payload (a CHUNK's data, after its header) sits on a DIRECT_IO_ALIGN boundary: the
   *   destination can then write a chunk with O_DIRECT straight from the buffer it was received in
   */
  constructor(readonly capacity: number, maxIdle: number, idleMs = 2000, alignAt?: number) {
    this.spare = new IdleBuffers(maxIdle, idleMs);
    this.prefix = alignAt === undefined ? 0 : (DIRECT_IO_ALIGN - (alignAt % DIRECT_IO_ALIGN)) % DIRECT_IO_ALIGN;
    this.alloc = alignAt === undefined ? Buffer.allocUnsafe : allocPreferAligned;
  }

  /** A buffer of exactly `length` bytes (contents undefined) and the function that gives it back. */
  take(length: number): { buf: Buffer; release: () => void } {
    if (length > this.capacity) return { buf: Buffer.allocUnsafe(length), release: noop };
    const size = this.prefix + this.capacity;
    const whole = this.spare.take(size) ?? this.alloc(size);
    let given = false;
    return {
      buf: whole.subarray(this.prefix, this.prefix + length),
      release: () => {
        // Twice would hand one buffer to two frames.
        if (given) return;
        given = true;
        this.spare.give(whole);
      },
    };
  }

  get idle(): number {
    return this.spare.count;
  }
}

function noop(): void {}

/** Payloads up to this size are plain allocations (control frames, tiny chunks in tests). */
export const POOLED_FRAME_MIN = 64 * 1024;

/**
 * Shared by every stream of the process. Sized for the default 4 MiB chunk plus its headers;
 * at most 16 idle buffers (64 MiB, about what a session's streams hold in flight: per stream one
 * being read, one queued, one being written) are kept; those
 * unused for 2 s go (IdleBuffers). Buffers are page-aligned with a CHUNK's data on a page
 * boundary, for the destination's direct writes (partial-file.ts); a chunkSize above the pool's
 * capacity gets ordinary buffers, and those chunks go through the page cache. A smaller cap
 * looked leaner but measured worse (case b after case a peaked at 269-307 MB with 8 idle,
 * 245-269 MB with 24; with the trimming, 8 still peaked higher than 16 or 24).
 */
export const sharedFramePool = new FrameBufferPool(4 * 1024 * 1024 + 64, 16, 2000, CHUNK_HEADER_BYTES);
