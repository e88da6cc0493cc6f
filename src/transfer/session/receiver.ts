import { BATCH_DATA_HEADER_BYTES, CHUNK_HEADER_BYTES, BatchBeginFrame, BatchEndFrame, MAX_BATCH_BYTES, SessionFrameType } from '../../protocol/data-frames.js';
import { splitParts, type InFrame } from '../wire/scatter-decoder.js';
import { decodeSessionJson, parseBatchData, parseChunkParts, frameName } from '../wire/session-frames.js';
import { dropView, holdViews } from '../batch/held.js';
import { extractBatch, tarBound } from '../batch/tar-extract.js';
import { chunkChecksumOff, chunkChecksumParts } from '../checksum/index.js';
import type { SessionContext } from './context.js';
import type { DestFile, FileTable } from './dest-files.js';
import { fsError, peerProtocolError, transferError } from '../errors.js';
import type { ProgressClock } from './stats.js';
import { tarEntryName } from './paths.js';
import { Semaphore } from '../util/waiters.js';
import { sessionVerifyTracker } from './verify-glue.js';

/** Per data stream: its write budget, and the batch whose frames are arriving on it. */
export interface StreamState {
  /** The stream's name, for events. */
  name: string;
  writes: Semaphore;
  batch: {
    id: number;
    files: Array<{ file: DestFile; checksum: string }>;
    parts: Buffer[];
    /** The frames holding `parts`, given back once their files are committed (batch/held.ts). */
    frames: InFrame[];
    bytes: number;
    bound: number;
    corrupt: boolean;
    /** A frame of the batch failed its MAC (a clear stream), not just its CRC. */
    forged: boolean;
  } | null;
}

/**
 * The destination's receive side: checks every data frame (known, requested file; range
 * inside what was asked and not yet received; CRC-32), writes chunks at their offsets into
 * the partial file, extracts intact batches, and asks again for anything damaged. A stream
 * stops reading while its writes are outstanding beyond its budget, so a slow disk slows the
 * sender instead of filling memory.
 */
export class DataReceiver {
  constructor(
    private readonly ctx: SessionContext,
    private readonly files: FileTable,
    private readonly clock: ProgressClock,
    private readonly commitRoom: (signal: AbortSignal) => Promise<void>,
  ) {}

  newState(name: string): StreamState {
    return { name, writes: new Semaphore(this.ctx.tuning.writesPerStream), batch: null };
  }

  async handle(frame: InFrame, st: StreamState): Promise<void> {
    if (frame.mac === 'bad') return this.forged(frame, st);
    switch (frame.type) {
      case SessionFrameType.CHUNK:
        return this.chunk(frame, st);
      case SessionFrameType.BATCH_BEGIN:
        return this.batchBegin(frame, st);
      case SessionFrameType.BATCH_DATA:
        return this.batchData(frame, st);
      case SessionFrameType.BATCH_END:
        return this.batchEnd(frame, st);
      default:
        throw peerProtocolError(`unexpected ${frameName(frame.type)} frame on a data stream`);
    }
  }

  private async chunk(frame: InFrame, st: StreamState): Promise<void> {
    const { guard, tuning } = this.ctx;
    const c = parseChunkParts(frame);
    const file = this.files.get(c.fileIndex);
    if (!file || file.abandoned) {
      if (this.files.isAbandoned(c.fileIndex) || file?.abandoned) {
        frame.release();
        return;
      }
      throw peerProtocolError(`CHUNK for file ${c.fileIndex}, which is not being transferred`);
    }
    const end = c.offset + c.length;
    if (c.length === 0 || file.committing || !file.awaiting.covers(c.offset, end)) {
      throw peerProtocolError(`CHUNK ${c.offset}+${c.length} of file ${c.fileIndex} was not requested`);
    }
    // Checked on clear streams too: the CRC is taken where the source read the bytes, before the
    // frame is sealed, so it still covers the source's own memory on the way to the wire. A big
    // chunk is summed off this thread (which decrypts every stream's records); meanwhile the
    // stream reads no further, and a file given up in between is not asked for again.
    const crc = await chunkChecksumOff(c.parts);
    if (file.abandoned) {
      frame.release();
      return;
    }
    if (crc !== c.crc) {
      frame.release();
      this.files.resend(file, [{ offset: c.offset, length: c.length }], { reason: 'chunk checksum mismatch', offset: c.offset, length: c.length });
      return;
    }
    let parts = c.parts;
    if (tuning.corruptWrite?.(file.i, c.offset)) {
      const first = Buffer.from(parts[0]!);
      first[0] = first[0]! ^ 0xff;
      parts = [first, ...parts.slice(1)];
    }
    await st.writes.acquire(1, guard.signal);
    // The slot usually frees when this stream's previous write (often of the same file) ends,
    // which is when a file given up is removed: nothing more goes into its partial then, nor
    // after the session ended (the acquire takes a free slot even once it was aborted).
    if (file.abandoned || file.committing || guard.done) {
      st.writes.release();
      frame.release();
      return;
    }
    file.writes += 1;
    guard.spawn(async () => {
      try {
        await guard.track(file.partial.writev(parts, c.offset));
      } catch (err) {
        throw fsError(err, 'destination', file.destApi);
      } finally {
        // The pooled buffer takes the next frame: nothing refers to the parts any more.
        frame.release();
        file.writes -= 1;
        st.writes.release();
      }
      file.awaiting.remove(c.offset, end);
      sessionVerifyTracker(this.ctx, file)?.wrote(c.offset, c.length);
      this.clock.stats.bytesTransferred += c.length;
      this.files.maybeComplete(file);
    });
  }


  /**
   * A frame from a clear stream whose MAC failed: altered on the way. Nothing of it is
   * written. A CHUNK whose header still names a range this side awaits is asked for again
   * (like a CRC mismatch, with a VERIFY_CHECKSUM event naming Transfer.ChunkMacMismatch);
   * BATCH_DATA spoils its open batch, which is asked for again at BATCH_END. Anything else
   * (a header that names nothing awaited, a batch's JSON frames) cannot be re-asked for:
   * the attempt ends with Transfer.ChunkMacMismatch and the task retries it.
   */
  private forged(frame: InFrame, st: StreamState): void {
    const what = frameName(frame.type);
    if (frame.type === SessionFrameType.CHUNK && frame.length >= CHUNK_HEADER_BYTES) {
      const c = parseChunkParts(frame);
      const file = this.files.get(c.fileIndex);
      if (file && !file.abandoned && !file.committing && c.length > 0 && file.awaiting.covers(c.offset, c.offset + c.length)) {
        frame.release();
        this.files.resend(file, [{ offset: c.offset, length: c.length }], {
          reason: 'chunk MAC mismatch', error: 'Transfer.ChunkMacMismatch', stream: st.name, offset: c.offset, length: c.length,
        });
        return;
      }
    }
    if (frame.type === SessionFrameType.BATCH_DATA && st.batch) {
      frame.release();
      st.batch.corrupt = true;
      st.batch.forged = true;
      // Counted as received, so the batch's next frame still fits (its bytes are dropped with the batch).
      st.batch.bytes += Math.max(0, frame.length - BATCH_DATA_HEADER_BYTES);
      return;
    }
    frame.release();
    throw transferError('Transfer.ChunkMacMismatch', `a ${what} frame on ${st.name} failed its MAC: the clear-text stream was tampered with`, 'VERIFY_CHECKSUM');
  }

  private batchBegin(frame: InFrame, st: StreamState): void {
    const begin = decodeSessionJson(frame, BatchBeginFrame);
    if (st.batch) throw peerProtocolError(`BATCH_BEGIN ${begin.batch} inside batch ${st.batch.id}`);
    const seen = new Set<number>();
    let total = 0;
    const files = begin.files.map(({ i, checksum }) => {
      const file = this.files.get(i);
      if (!file || file.committing || file.abandoned || file.replies === 0 || seen.has(i) || !file.awaiting.covers(0, file.size) && file.size > 0) {
        throw peerProtocolError(`BATCH_BEGIN ${begin.batch} names file ${i}, which was not requested whole`);
      }
      seen.add(i);
      total += file.size;
      return { file, checksum };
    });
    if (total > MAX_BATCH_BYTES) throw peerProtocolError(`batch ${begin.batch} carries ${total} bytes, over the ${MAX_BATCH_BYTES}-byte limit`);
    const bound = tarBound(files.map(({ file }) => ({ name: this.entryName(file), size: file.size })));
    st.batch = { id: begin.batch, files, parts: [], frames: [], bytes: 0, bound, corrupt: false, forged: false };
  }

  private batchData(frame: InFrame, st: StreamState): void {
    // The data stays in the socket's buffers (slices, not joined): the tar reader takes each
    // file's bytes from them directly.
    if (frame.length < BATCH_DATA_HEADER_BYTES) throw peerProtocolError(`BATCH_DATA frame of ${frame.length} bytes is shorter than its header`);
    const { head, rest } = splitParts(frame.parts, BATCH_DATA_HEADER_BYTES);
    const d = parseBatchData(head);
    const length = frame.length - BATCH_DATA_HEADER_BYTES;
    const b = st.batch;
    if (!b || b.id !== d.batch) throw peerProtocolError(`BATCH_DATA for batch ${d.batch}, which is not open on this stream`);
    if (d.offset !== b.bytes) throw peerProtocolError(`BATCH_DATA of batch ${d.batch} at offset ${d.offset}, expected ${b.bytes}`);
    b.bytes += length;
    if (b.bytes > b.bound) throw peerProtocolError(`batch ${d.batch} is larger than its files allow`);
    if (chunkChecksumParts(rest) !== d.crc) b.corrupt = true;
    if (!b.corrupt) {
      b.parts.push(...rest);
      b.frames.push(frame);
    } else {
      frame.release();
    }
  }

  private async batchEnd(frame: InFrame, st: StreamState): Promise<void> {
    const { guard, tuning } = this.ctx;
    const { batch: id } = decodeSessionJson(frame, BatchEndFrame);
    const b = st.batch;
    if (!b || b.id !== id) throw peerProtocolError(`BATCH_END for batch ${id}, which is not open on this stream`);
    st.batch = null;
    const files = b.files.map((f) => f.file);
    const releaseFrames = (): void => { for (const f of b.frames) f.release(); };
    if (b.corrupt) {
      releaseFrames();
      this.files.batchFailed(files, b.forged
        ? { reason: 'batch MAC mismatch', error: 'Transfer.ChunkMacMismatch', stream: st.name, batch: id }
        : { reason: 'batch checksum mismatch', batch: id });
      return;
    }
    const expected = files.map((file) => ({ name: this.entryName(file), size: file.size }));
    const extracted = extractBatch(b.parts, expected);
    // Views into the frames' buffers (not copies made for entries spanning frames) hold them.
    const owned = new Set(b.parts.map((p) => p.buffer));
    holdViews(extracted.filter((e) => e.data.length > 0 && owned.has(e.data.buffer)).map((e) => e.data), releaseFrames);
    for (const { index, data } of extracted) {
      const { file, checksum } = b.files[index]!;
      let bytes = data;
      if (tuning.corruptWrite?.(file.i, 0) && bytes.length > 0) {
        dropView(bytes);
        bytes = Buffer.from(bytes);
        bytes[0] = bytes[0]! ^ 0xff;
      }
      // The committer writes it to the partial file and commits it in one pass on a worker.
      file.data = bytes;
      file.awaiting.clear();
      this.clock.stats.bytesTransferred += bytes.length;
      this.files.replied(file.i, checksum);
    }
    await this.commitRoom(guard.signal);
  }

  private entryName(file: DestFile): string {
    return tarEntryName({ item: file.item, path: file.rel });
  }
}
