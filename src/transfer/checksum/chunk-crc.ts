import * as zlib from 'node:zlib';
import { chooseNative, nativeExports } from '../../fs/load.js';

/**
 * CRC-32 (zlib's) of the data chunks, summed by the source before sending and by the
 * destination before writing. Native (native/src/crc32.c: folded with PCLMULQDQ, over 10 GB/s)
 * where the addon loads and the CPU folds; otherwise the twin, zlib.crc32 (2-4 GB/s here), or a
 * table on runtimes without it. All give the same values: the conformance and differential
 * suite in test/unit/native-hash/chunk-crc.test.ts checks them against each other.
 */
export interface ChunkCrc {
  readonly kind: 'native' | 'twin';
  /** The CRC-32 of `data` continuing from `previous` (0 to start), as zlib.crc32(data, previous). */
  crc32(data: Uint8Array, previous: number): number;
  /**
   * crc32(data, 0), computed off this thread where the implementation can (the native one, on
   * libuv's pool: the destination checks each big chunk this way, its main thread being the one
   * that decrypts every stream). `data` must not change until the promise settles.
   */
  crc32Off(data: Uint8Array): Promise<number>;
}

interface NativeCrcBinding {
  crc32(data: Uint8Array, previous: number): number;
  crc32Accelerated(): boolean;
  crc32Async(data: Uint8Array): Promise<number>;
}

const zlibCrc = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let table: Uint32Array | null = null;

/** Byte by byte, for runtimes without zlib.crc32 (exported for its own conformance test). */
export function tableCrc32(data: Uint8Array, previous: number): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let k = 0; k < data.length; k++) crc = table[(crc ^ data[k]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export const twinChunkCrc: ChunkCrc = {
  kind: 'twin',
  // zlib.crc32 of an empty view over a zero-length ArrayBuffer answers 0 whatever the running
  // value (zlib is handed a null pointer); the CRC of nothing more is the running value, as the
  // native CRC and the table give it, and as a peer on the other implementation must agree.
  crc32: zlibCrc ? (data, previous) => (data.length === 0 ? previous >>> 0 : zlibCrc(data, previous) >>> 0) : tableCrc32,
  async crc32Off(data) {
    return twinChunkCrc.crc32(data, 0);
  },
};

/** The addon's CRC, whether or not the CPU folds (for the conformance suite). */
export function nativeChunkCrc(): ChunkCrc {
  const n = nativeExports<NativeCrcBinding>(['crc32', 'crc32Accelerated', 'crc32Async']);
  return { kind: 'native', crc32: (data, previous) => n.crc32(data, previous), crc32Off: (data) => n.crc32Async(data) };
}

/** Whether the addon's CRC folds on this CPU; false when it cannot load. */
export function nativeCrcAccelerated(): boolean {
  try {
    return nativeExports<NativeCrcBinding>(['crc32', 'crc32Accelerated']).crc32Accelerated();
  } catch {
    return false;
  }
}

/** The native CRC only where it folds: byte by byte it would be slower than zlib's. */
function loadFolding(): ChunkCrc {
  if (!nativeCrcAccelerated()) throw new Error('the native CRC-32 cannot fold on this CPU (no PCLMULQDQ)');
  return nativeChunkCrc();
}

export const chunkCrc: ChunkCrc = chooseNative(process.env, loadFolding, twinChunkCrc).impl;
