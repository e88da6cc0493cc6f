import tar from 'tar-stream';
import type { FerryError } from '../../common/errors.js';
import { BatchBeginFrame, BatchEndFrame, SessionFrameType } from '../../protocol/data-frames.js';
import { chunkChecksum } from '../checksum/index.js';
import type { SendUnit } from '../chunks/sender.js';
import { errnoError, fsError, transferError } from '../session/errors.js';
import type { ReadResult } from '../workers/io-pool.js';
import { encodeBatchDataHead, encodeSessionJson } from '../wire/session-frames.js';

/**
 * Small whole files travel as tar batches, so thousands of files cost a handful of frames
 * instead of a request, a FILE_DONE and a chunk each. A batch is bounded (batchBytes,
 * batchMaxFiles, every file at most smallFileThreshold), so it is built in memory: an fs worker
 * reads and hashes the files (one round trip for the batch), tar-stream packs them, and the
 * tar bytes are cut into BATCH_DATA frames with CRC-32s.
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

export type ReadFiles = (files: Array<{ path: string; size: number }>) => Promise<ReadResult[]>;

export async function packBatch(
  batchId: number,
  files: readonly BatchFile[],
  readFiles: ReadFiles,
  frameBytes: number,
  corruptChunk: ((fileIndex: number, offset: number) => boolean) | undefined,
): Promise<PackedBatch> {
  const read = await readFiles(files.map((f) => ({ path: f.hostPath, size: f.size })));
  const failures: PackedBatch['failures'] = [];
  const ok: Array<{ file: BatchFile; data: Buffer; checksum: string }> = [];
  read.forEach((r, k) => {
    const file = files[k]!;
    if (r.data) ok.push({ file, data: r.data, checksum: r.checksum });
    else if (r.errno === 'ECHANGED') failures.push({ file, error: transferError('Transfer.SourceChanged', `The source file changed size while it was being sent: ${file.apiPath}`, 'FILE_SIZE_CHANGED') });
    else failures.push({ file, error: fsError(errnoError(r.errno ?? 'EIO', r.message), 'source', file.apiPath) });
  });
  if (ok.length === 0) return { unit: null, failures };

  const pack = tar.pack();
  for (const r of ok) {
    pack.entry({ name: r.file.entryName, size: r.data.length, mode: r.file.mode & 0o777, mtime: new Date(Math.max(0, r.file.mtimeMs)), type: 'file' }, r.data);
  }
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) parts.push(chunk);
  const tarBytes = Buffer.concat(parts);

  const frames: Buffer[][] = [[encodeSessionJson(SessionFrameType.BATCH_BEGIN, BatchBeginFrame, {
    batch: batchId,
    files: ok.map((r) => ({ i: r.file.i, checksum: r.checksum })),
  })]];
  for (let offset = 0; offset < tarBytes.length; offset += frameBytes) {
    let data = tarBytes.subarray(offset, Math.min(offset + frameBytes, tarBytes.length));
    const crc = chunkChecksum(data);
    if (corruptChunk?.(ok[0]!.file.i, offset)) {
      data = Buffer.from(data);
      data[0] = data[0]! ^ 0xff;
    }
    frames.push([encodeBatchDataHead(batchId, offset, crc, data.length), data]);
  }
  frames.push([encodeSessionJson(SessionFrameType.BATCH_END, BatchEndFrame, { batch: batchId })]);
  return { unit: { frames, cost: tarBytes.length }, failures };
}
