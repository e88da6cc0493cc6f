import type { Static, TSchema } from '@sinclair/typebox';
import { checkSchema } from '../../common/validate.js';
import { BATCH_DATA_HEADER_BYTES, CHUNK_HEADER_BYTES, SessionFrameType } from '../../protocol/data-frames.js';
import { FRAME_HEADER_BYTES } from '../../protocol/frames.js';
import { peerProtocolError } from '../errors.js';
import { encodeJsonFrame, frameHeader, type Frame } from './frame-codec.js';
import { splitParts } from './scatter-decoder.js';

/**
 * Encoding and checked decoding of session frames. JSON frames are validated against their
 * TypeBox schema; binary frames are parsed with explicit bounds checks. Anything wrong is a
 * Transfer.PeerProtocol error: the session ends cleanly, nothing crashes.
 */

const NAMES = new Map<number, string>(Object.entries(SessionFrameType).map(([name, type]) => [type, name]));

export function frameName(type: number): string {
  return NAMES.get(type) ?? `0x${type.toString(16)}`;
}

export function encodeSessionJson<S extends TSchema>(type: SessionFrameType, _schema: S, value: Static<S>): Buffer {
  return encodeJsonFrame(type, value);
}

export function decodeSessionJson<S extends TSchema>(frame: Frame, schema: S): Static<S> {
  let value: unknown;
  try {
    value = JSON.parse(frame.payload.toString('utf8'));
  } catch {
    throw peerProtocolError(`${frameName(frame.type)} frame is not JSON`);
  } finally {
    // A big JSON frame (a MANIFEST of many entries) may sit in a pooled buffer: the parsed value
    // is all that is needed from here on, and the buffer can take the next chunk.
    frame.release?.();
  }
  const problems = checkSchema(schema, value);
  if (problems !== null) throw peerProtocolError(`${frameName(frame.type)} frame is invalid: ${problems}`);
  return value as Static<S>;
}

export interface ChunkFrame {
  fileIndex: number;
  offset: number;
  crc: number;
  data: Buffer;
}

/** Bytes of a CHUNK frame before its data: frame header + chunk header. */
export const CHUNK_HEAD_BYTES = FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES;

/**
 * Frame header + chunk header for a CHUNK of `dataLength` bytes; the data is written after it.
 * Written into the first CHUNK_HEAD_BYTES of `head` when given (a buffer whose data follows).
 */
export function encodeChunkHead(fileIndex: number, offset: number, crc: number, dataLength: number, head: Buffer = Buffer.allocUnsafe(CHUNK_HEAD_BYTES)): Buffer {
  frameHeader(SessionFrameType.CHUNK, CHUNK_HEADER_BYTES + dataLength).copy(head, 0);
  head.writeUInt32BE(fileIndex, 5);
  head.writeUInt32BE(Math.floor(offset / 0x1_0000_0000), 9);
  head.writeUInt32BE(offset % 0x1_0000_0000, 13);
  head.writeUInt32BE(crc >>> 0, 17);
  return head;
}

export function parseChunk(payload: Buffer): ChunkFrame {
  if (payload.length < CHUNK_HEADER_BYTES) throw peerProtocolError(`CHUNK frame of ${payload.length} bytes is shorter than its header`);
  const high = payload.readUInt32BE(4);
  if (high >= 0x20_0000) throw peerProtocolError('CHUNK offset exceeds 2^53');
  return {
    fileIndex: payload.readUInt32BE(0),
    offset: high * 0x1_0000_0000 + payload.readUInt32BE(8),
    crc: payload.readUInt32BE(12),
    data: payload.subarray(CHUNK_HEADER_BYTES),
  };
}

export interface ChunkParts {
  fileIndex: number;
  offset: number;
  crc: number;
  /** The data as slices of the received buffers. */
  parts: Buffer[];
  length: number;
}

/** parseChunk without joining the data: header checked, data left in the socket's buffers. */
export function parseChunkParts(frame: { parts: readonly Buffer[]; length: number }): ChunkParts {
  if (frame.length < CHUNK_HEADER_BYTES) throw peerProtocolError(`CHUNK frame of ${frame.length} bytes is shorter than its header`);
  const { head, rest } = splitParts(frame.parts, CHUNK_HEADER_BYTES);
  const c = parseChunk(head);
  return { fileIndex: c.fileIndex, offset: c.offset, crc: c.crc, parts: rest, length: frame.length - CHUNK_HEADER_BYTES };
}

export interface BatchDataFrame {
  batch: number;
  offset: number;
  crc: number;
  data: Buffer;
}

export function encodeBatchDataHead(batch: number, offset: number, crc: number, dataLength: number): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + BATCH_DATA_HEADER_BYTES);
  frameHeader(SessionFrameType.BATCH_DATA, BATCH_DATA_HEADER_BYTES + dataLength).copy(head, 0);
  head.writeUInt32BE(batch, 5);
  head.writeUInt32BE(offset, 9);
  head.writeUInt32BE(crc >>> 0, 13);
  return head;
}

export function parseBatchData(payload: Buffer): BatchDataFrame {
  if (payload.length < BATCH_DATA_HEADER_BYTES) throw peerProtocolError(`BATCH_DATA frame of ${payload.length} bytes is shorter than its header`);
  return {
    batch: payload.readUInt32BE(0),
    offset: payload.readUInt32BE(4),
    crc: payload.readUInt32BE(8),
    data: payload.subarray(BATCH_DATA_HEADER_BYTES),
  };
}
