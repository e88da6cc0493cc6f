import { readFileSync } from 'node:fs';
import { getNativeFastHash, getTwinFastHash, nativeFastHashUnavailableReason, type FastHash } from '../../../src/transfer/checksum/fast-hash.js';

/** Both FastHash implementations; the native one is undefined (with the reason) when the addon is not built. */
export const nativeReason = nativeFastHashUnavailableReason();
export const nativeHash: FastHash | undefined = nativeReason === undefined ? getNativeFastHash() : undefined;
export const twinHash: FastHash = getTwinFastHash();

export interface VectorCase {
  inputLen: number;
  /** XXH3-128, canonical (big-endian) hex, as xxhsum -H2 prints it. */
  xxh128: string;
}

/** vectors.json: see its `source` for how each value was made. */
export const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')) as { source: string; cases: VectorCase[] };

/** The vectors' input: bytes 0, 1, ..., 250, 0, 1, ... */
export function vectorInput(length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}
