import { FerryError } from '../../common/errors.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD } from '../../protocol/frames.js';

export interface Frame {
  type: number;
  payload: Buffer;
  /** Give a pooled payload buffer back (received frames, see frame-pool.ts); the payload is unusable afterwards. */
  release?: () => void;
}

/** Header + payload as one buffer (callers may write header and payload separately instead). */
export function encodeFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([frameHeader(type, payload.length), payload]);
}

export function frameHeader(type: number, payloadLength: number): Buffer {
  if (payloadLength > MAX_FRAME_PAYLOAD) throw new FerryError('Link.BadMessage', `frame payload of ${payloadLength} bytes exceeds the ${MAX_FRAME_PAYLOAD}-byte limit`);
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new FerryError('Link.BadMessage', `frame type ${type} is not a byte`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payloadLength, 0);
  header.writeUInt8(type, 4);
  return header;
}

export function encodeJsonFrame(type: number, value: unknown): Buffer {
  return encodeFrame(type, Buffer.from(JSON.stringify(value), 'utf8'));
}

/**
 * Incremental decoder: push() bytes as they arrive, get whole frames back. A length prefix
 * above `maxPayload` is refused before any of that payload is buffered, so a hostile peer
 * cannot make us allocate more than one frame's worth.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPayload = MAX_FRAME_PAYLOAD) {}

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length > this.maxPayload) {
        throw new FerryError('Link.BadMessage', `peer sent a frame of ${length} bytes, over the ${this.maxPayload}-byte limit`);
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const whole = this.take(FRAME_HEADER_BYTES + length);
      frames.push({ type: whole.readUInt8(4), payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    let out: Buffer;
    if (this.chunks[0]!.length >= n) {
      out = this.chunks[0]!.subarray(0, n);
      const rest = this.chunks[0]!.subarray(n);
      if (rest.length > 0) this.chunks[0] = rest; else this.chunks.shift();
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      const rest = all.subarray(n);
      this.chunks = rest.length > 0 ? [rest] : [];
    }
    this.buffered -= n;
    return out;
  }
}
