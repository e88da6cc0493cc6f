import { timingSafeEqual } from 'node:crypto';
import { FRAME_HEADER_BYTES } from '../../protocol/frames.js';
import { peerProtocolError } from '../errors.js';
import { InFrame } from './scatter-decoder.js';

/**
 * Integrity of the frames of a clear-text stream (encrypt_data false), where TLS no longer
 * guards them. Every frame gets a trailer: a MAC over its header (with the trailer counted in
 * its length) and its payload, under the frame's sequence number on its stream as the nonce, so
 * a frame altered, moved to another position, replayed or cut short fails the check. The key is
 * the stream's and direction's (channel/clear-keys.ts), which binds each frame to its session,
 * stream and sender too. CHUNK frames thus carry a MAC over session, file, offset, length,
 * sequence number and data. A failed check is reported on the frame (`mac: 'bad'`), not
 * thrown: the session layer decides what a damaged frame costs (a CHUNK is asked for again).
 * The MAC itself is injected (AES-GMAC from checksum/): the wire layer computes no hashes.
 */
export const FRAME_MAC_BYTES = 16;

export interface FrameMac {
  /**
   * The FRAME_MAC_BYTES tag of the parts' concatenation under nonce `seq`. One key tags each
   * sequence number once (the sealer counts them), which a nonce-based MAC such as GMAC needs.
   */
  tag(seq: number, parts: readonly Uint8Array[]): Buffer;
}

/** Sending side: whole frames (header first) in, the same frame with its length grown and its MAC appended out. */
export class FrameSealer {
  private seq = 0;

  constructor(private readonly key: FrameMac) {}

  seal(parts: readonly Buffer[]): Buffer[] {
    const first = parts[0];
    if (first === undefined || first.length < FRAME_HEADER_BYTES) throw new RangeError('a sealed frame starts with its whole header');
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(first.readUInt32BE(0) + FRAME_MAC_BYTES, 0);
    header[4] = first[4]!;
    const body = first.length > FRAME_HEADER_BYTES ? [first.subarray(FRAME_HEADER_BYTES), ...parts.slice(1)] : parts.slice(1);
    const tag = this.key.tag(this.seq, [header, ...body]);
    this.seq += 1;
    return [header, ...body, tag];
  }
}

/** Receiving side: every frame of the stream, in order. */
export class FrameOpener {
  private seq = 0;

  constructor(private readonly key: FrameMac) {}

  /** The frame without its trailer, marked 'ok' or 'bad'. Throws Transfer.PeerProtocol for a frame too short to carry one. */
  open(frame: InFrame): InFrame {
    const seq = this.seq;
    this.seq += 1;
    if (frame.length < FRAME_MAC_BYTES) throw peerProtocolError(`a frame of ${frame.length} bytes on a clear stream cannot carry its MAC`);
    const payload = frame.payload;
    const bodyLength = frame.length - FRAME_MAC_BYTES;
    const body = payload.subarray(0, bodyLength);
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(frame.length, 0);
    header[4] = frame.type;
    const tag = this.key.tag(seq, [header, body]);
    const ok = timingSafeEqual(tag, payload.subarray(bodyLength));
    return new InFrame(frame.type, bodyLength === 0 ? [] : [body], bodyLength, frame.release, ok ? 'ok' : 'bad');
  }
}
