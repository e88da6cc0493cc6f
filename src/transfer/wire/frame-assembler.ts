import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD } from '../../protocol/frames.js';
import { peerProtocolError } from '../errors.js';
import { POOLED_FRAME_MIN, sharedFramePool, type FrameBufferPool } from './frame-pool.js';
import { InFrame } from './scatter-decoder.js';

/**
 * Incremental frame decoder that puts every frame's payload into one buffer of its own: the
 * socket reads straight into it (space()/filled(), see user-buffer.ts) or, on streams that
 * cannot, received bytes are copied in (feed()). Either way a 4 MiB CHUNK arrives as one
 * contiguous, pooled buffer: checksummed in one call, written with one iovec, reused for the
 * next chunk. A length prefix above `maxPayload` is refused before any of its payload is
 * buffered, so a hostile peer cannot make us allocate more than one frame's worth.
 */
export class FrameAssembler {
  private readonly head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  /** Where the next bytes go: `head`, or the payload of the frame being read. */
  private target: Buffer = this.head;
  private at = 0;
  private type = 0;
  private release: () => void = noop;

  constructor(
    private readonly emit: (frame: InFrame) => void,
    private readonly maxPayload = MAX_FRAME_PAYLOAD,
    private readonly pool: FrameBufferPool = sharedFramePool,
  ) {}

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.target === this.head ? this.at : FRAME_HEADER_BYTES + this.at;
  }

  /** The free space the next received bytes belong in (never empty). */
  space(): Buffer {
    return this.target.subarray(this.at);
  }

  /** `n` bytes were received into space(). Throws Transfer.PeerProtocol on an oversized frame. */
  filled(n: number): void {
    this.at += n;
    if (this.at === this.target.length) this.complete();
  }

  /** Bytes received elsewhere (a stream without user-buffer reads): copied in. */
  feed(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.target.length - this.at);
      this.target.set(chunk.subarray(off, off + n), this.at);
      off += n;
      this.filled(n);
    }
  }

  private complete(): void {
    if (this.target === this.head) {
      const length = this.head.readUInt32BE(0);
      if (length > this.maxPayload) throw peerProtocolError(`peer sent a frame of ${length} bytes, over the ${this.maxPayload}-byte limit`);
      this.type = this.head.readUInt8(4);
      this.at = 0;
      if (length === 0) {
        this.emit(new InFrame(this.type, [], 0));
        return;
      }
      if (length >= POOLED_FRAME_MIN) {
        const { buf, release } = this.pool.take(length);
        this.target = buf;
        this.release = release;
      } else {
        this.target = Buffer.allocUnsafe(length);
        this.release = noop;
      }
      return;
    }
    const frame = new InFrame(this.type, [this.target], this.target.length, this.release);
    this.target = this.head;
    this.at = 0;
    this.release = noop;
    this.emit(frame);
  }
}

function noop(): void {}
