import { open } from 'node:fs/promises';
import tar from 'tar-stream';
import type { Checksummer } from '../checksum/index.js';
import { chunkChecksum, hashBuffer } from '../checksum/index.js';
import { SessionFrameType } from '../../protocol/data-frames.js';
import { fsError, transferError } from '../session/errors.js';
import { Semaphore } from '../util/waiters.js';
import { encodeSessionJson, encodeBatchDataHead } from '../wire/session-frames.js';
import { BatchBeginFrame, BatchEndFrame } from '../../protocol/data-frames.js';
import type { FerryError } from '../../common/errors.js';
import type { SendUnit } from '../chunks/sender.js';

/**
 * Small whole files travel as tar batches, so thousands of files cost a handful of frames
 * instead of a request, a FILE_DONE and a chunk each. A batch is bounded (batchBytes,
 * batchMaxFiles, every file at most smallFileThreshold), so it is built in memory: read the
 * files, hash each, pack with tar-stream, cut into BATCH_DATA frames with CRC-32s.
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

const READ_CONCURRENCY = 8;

async function readWhole(file: BatchFile): Promise<Buffer> {
  const fh = await open(file.hostPath, 'r');
  try {
    const st = await fh.stat();
    if (st.size !== file.size) throw changed(file);
    // One byte more than expected shows a file that grew since it was stat'ed.
    const buf = Buffer.allocUnsafe(file.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got !== file.size) throw changed(file);
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function changed(file: BatchFile): FerryError {
  return transferError('Transfer.SourceChanged', `The source file changed size while it was being sent: ${file.apiPath}`, 'FILE_SIZE_CHANGED');
}

export async function packBatch(
  batchId: number,
  files: readonly BatchFile[],
  checksummer: Checksummer,
  frameBytes: number,
  corruptChunk: ((fileIndex: number, offset: number) => boolean) | undefined,
): Promise<PackedBatch> {
  const gate = new Semaphore(READ_CONCURRENCY);
  const read = await Promise.all(files.map((file) => gate.run(async () => {
    try {
      const data = await readWhole(file);
      return { file, data, checksum: await hashBuffer(checksummer.algorithm, data), error: null };
    } catch (err) {
      return { file, data: null, checksum: '', error: fsError(err, 'source', file.apiPath) };
    }
  })));
  const failures = read.filter((r) => r.error !== null).map((r) => ({ file: r.file, error: r.error! }));
  const ok = read.filter((r) => r.data !== null);
  if (ok.length === 0) return { unit: null, failures };

  const pack = tar.pack();
  for (const r of ok) {
    pack.entry({ name: r.file.entryName, size: r.data!.length, mode: r.file.mode & 0o777, mtime: new Date(Math.max(0, r.file.mtimeMs)), type: 'file' }, r.data!);
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
    const data = tarBytes.subarray(offset, Math.min(offset + frameBytes, tarBytes.length));
    const crc = chunkChecksum(data);
    if (corruptChunk?.(ok[0]!.file.i, offset)) {
      const copy = Buffer.from(data);
      copy[0] = copy[0]! ^ 0xff;
      frames.push([encodeBatchDataHead(batchId, offset, crc, copy.length), copy]);
    } else {
      frames.push([encodeBatchDataHead(batchId, offset, crc, data.length), data]);
    }
  }
  frames.push([encodeSessionJson(SessionFrameType.BATCH_END, BatchEndFrame, { batch: batchId })]);
  return { unit: { frames, cost: tarBytes.length }, failures };
}
