import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD } from '../../protocol/frames.js';
import { peerProtocolError } from '../session/errors.js';

/**
 * A received frame whose payload is kept as the socket's own buffers (slices, no copy): a
 * multi-megabyte CHUNK goes to disk with writev() straight from them. `payload` joins the
 * parts on first use, for the small JSON frames.
 */
export class InFrame {
  private joined: Buffer | null = null;

  constructor(readonly type: number, readonly parts: readonly Buffer[], readonly length: number) {}

  get payload(): Buffer {
    if (!this.joined) this.joined = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts as Buffer[], this.length);
    return this.joined;
  }
}

/** The first `n` bytes of `parts` (copied only if they span parts) and the parts after them. */
export function splitParts(parts: readonly Buffer[], n: number): { head: Buffer; rest: Buffer[] } {
  const first = parts[0];
  if (first && first.length >= n) {
    const rest = first.length > n ? [first.subarray(n), ...parts.slice(1)] : parts.slice(1);
    return { head: first.subarray(0, n), rest };
  }
  const head = Buffer.alloc(n);
  let got = 0;
  let k = 0;
  for (; k < parts.length && got < n; k++) {
    const p = parts[k]!;
    const take = Math.min(p.length, n - got);
    p.copy(head, got, 0, take);
    got += take;
    if (take < p.length) return { head: head.subarray(0, got), rest: [p.subarray(take), ...parts.slice(k + 1)] };
  }
  return { head: head.subarray(0, got), rest: parts.slice(k) };
}

/**
 * Incremental frame decoder like FrameDecoder (same framing, same refusal of an oversized
 * length before buffering it), but payloads come out as slices of the received buffers.
 */
export class ScatterDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPayload = MAX_FRAME_PAYLOAD) {}

  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): InFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: InFrame[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const { head } = splitParts(this.chunks, FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length > this.maxPayload) throw peerProtocolError(`peer sent a frame of ${length} bytes, over the ${this.maxPayload}-byte limit`);
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const type = head.readUInt8(4);
      this.drop(FRAME_HEADER_BYTES);
      frames.push(new InFrame(type, this.take(length), length));
    }
    return frames;
  }

  private drop(n: number): void {
    this.take(n);
  }

  private take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        out.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        out.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}
