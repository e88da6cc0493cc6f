import type { FerryError } from '../../common/errors.js';
import { BatchBeginFrame, BatchEndFrame, SessionFrameType } from '../../protocol/data-frames.js';
import { chunkChecksum } from '../checksum/index.js';
import type { SendUnit } from '../wire/send-unit.js';
import { errnoError, fsError, transferError } from '../errors.js';
import { encodeBatchDataHead, encodeSessionJson } from '../wire/session-frames.js';
import { END_BYTES, entryBytes, headerBytes, pad, writeHeader, zero } from './ustar.js';

/**
 * Small whole files travel as tar batches, so thousands of files cost a handful of frames
 * instead of a request, a FILE_DONE and a chunk each. A batch is bounded (batchBytes,
 * batchMaxFiles, every file at most smallFileThreshold, its tar at most one pooled buffer), so
 * it is laid out in memory: the headers are written here, an fs worker reads every file
 * straight into its place behind its header and hashes it there (one round trip for the
 * batch), and the buffer is cut into BATCH_DATA frames with CRC-32s. The file bytes are never
 * copied on this thread, and the buffer goes back to the pool once the socket has sent it.
 */

export interface BatchFile {
  i: number;
  hostPath: string;
  apiPath: string;
  size: number;
  mtimeMs: number;
  mode: number;
  /** Tar entry name; the destination checks every entry against the one it expects. */
  entryName: string;
}

export interface PackedBatch {
  unit: SendUnit | null;
  /** Files that could not be read (the caller skips or fails them). */
  failures: Array<{ file: BatchFile; error: FerryError }>;
}

export type ReadInto = (files: Array<{ path: string; size: number; at: number }>, target: Buffer) => Promise<Array<{ checksum?: string; errno?: string; message?: string }>>;

/** Where batch buffers come from: SharedArrayBuffer-backed, so a worker can fill them in place. */
export interface BatchBuffers {
  readonly bufferBytes: number;
  get(signal: AbortSignal): Promise<Buffer>;
  put(buf: Buffer): void;
}

export interface PackOptions {
  readInto: ReadInto;
  buffers: BatchBuffers;
  frameBytes: number;
  signal: AbortSignal;
  corruptChunk?: ((fileIndex: number, offset: number) => boolean) | undefined;
}

/** The tar bytes of these files, end marker included. */
export function batchTarBytes(files: ReadonlyArray<{ entryName: string; size: number }>): number {
  let n = END_BYTES;
  for (const f of files) n += entryBytes(f.entryName, f.size);
  return n;
}

export async function packBatch(batchId: number, files: readonly BatchFile[], opts: PackOptions): Promise<PackedBatch> {
  const total = batchTarBytes(files);
  // A batch bigger than a pooled buffer (only with unusual tuning) gets a buffer of its own.
  const pooled = total <= opts.buffers.bufferBytes;
  const buf = pooled ? await opts.buffers.get(opts.signal) : Buffer.from(new SharedArrayBuffer(total));
  const release = (): void => { if (pooled) opts.buffers.put(buf); };
  try {
    const places: Array<{ path: string; size: number; at: number }> = [];
    let at = 0;
    for (const f of files) {
      const dataAt = writeHeader(buf, at, { name: f.entryName, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs });
      zero(buf, dataAt + f.size, dataAt + pad(f.size));
      places.push({ path: f.hostPath, size: f.size, at: dataAt });
      at = dataAt + pad(f.size);
    }
    const read = await opts.readInto(places, buf);
    const failures: PackedBatch['failures'] = [];
    const ok: Array<{ file: BatchFile; checksum: string }> = [];
    let end = 0;
    read.forEach((r, k) => {
      const file = files[k]!;
      const size = headerBytes(file.entryName) + pad(file.size);
      const from = places[k]!.at - headerBytes(file.entryName);
      if (r.checksum !== undefined) {
        // Entries after a failed file move down over it (the same bytes, earlier: never overlapping what is still to move).
        if (from !== end) buf.copyWithin(end, from, from + size);
        end += size;
        ok.push({ file, checksum: r.checksum });
      } else if (r.errno === 'ECHANGED') {
        failures.push({ file, error: transferError('Transfer.SourceChanged', `The source file changed size while it was being sent: ${file.apiPath}`, 'FILE_SIZE_CHANGED') });
      } else {
        failures.push({ file, error: fsError(errnoError(r.errno ?? 'EIO', r.message), 'source', file.apiPath) });
      }
    });
    if (ok.length === 0) {
      release();
      return { unit: null, failures };
    }
    zero(buf, end, end + END_BYTES);
    const tarBytes = buf.subarray(0, end + END_BYTES);

    const frames: Buffer[][] = [[encodeSessionJson(SessionFrameType.BATCH_BEGIN, BatchBeginFrame, {
      batch: batchId,
      files: ok.map((r) => ({ i: r.file.i, checksum: r.checksum })),
    })]];
    for (let offset = 0; offset < tarBytes.length; offset += opts.frameBytes) {
      let data = tarBytes.subarray(offset, Math.min(offset + opts.frameBytes, tarBytes.length));
      const crc = chunkChecksum(data);
      if (opts.corruptChunk?.(ok[0]!.file.i, offset)) {
        data = Buffer.from(data);
        data[0] = data[0]! ^ 0xff;
      }
      frames.push([encodeBatchDataHead(batchId, offset, crc, data.length), data]);
    }
    frames.push([encodeSessionJson(SessionFrameType.BATCH_END, BatchEndFrame, { batch: batchId })]);
    return { unit: { frames, cost: pooled ? opts.buffers.bufferBytes : total, done: release }, failures };
  } catch (err) {
    release();
    throw err;
  }
}
