import { constants } from 'node:fs';
import { openRefHandle, type FileRef } from '../../fs/index.js';
import type { ByteRange } from '../../protocol/data-frames.js';
import type { Checksummer, StreamingHash } from '../checksum/index.js';
import { summedReads } from '../checksum/index.js';
import { canceledError, transferError } from '../errors.js';
import { DEFAULT_TUNING } from '../tuning.js';
import { IdleBuffers } from '../util/idle-buffers.js';
import { Semaphore } from '../util/waiters.js';
import { bufferDropped } from '../workers/shared-drops.js';
import { CHUNK_HEAD_BYTES, encodeChunkHead } from '../wire/session-frames.js';
import type { SendQueue } from './sender.js';

/**
 * Reuses chunk buffers once the socket and the hash are done with them, so a steady transfer
 * does not allocate (and page-fault in) a fresh multi-megabyte buffer per chunk. Buffers live
 * in SharedArrayBuffers, so a worker thread hashes them in place.
 *
 * Each session has its own pool (its own bound on buffers out), and every pool of the process
 * also draws on one budget (AGENT_SOURCE_BUFFER_BYTES), so fifty sessions at once hold what
 * two busy ones would, not fifty times one. Idle buffers go back to a process-wide spare list
 * that the next session takes from: buffers dropped with a finished session would wait for a
 * garbage collection that an idle agent may not run for a long time (the source of an earlier
 * 2 GiB transfer sat on about 70 MB of them; a worker thread that read into one keeps it alive
 * until its own collection), and the next session would page-fault in new ones.
 */
export class BufferPool {
  private readonly slots: Semaphore;
  /** Buffers handed out and not put back yet: what close() gives back to the budget. */
  private out = 0;
  private closed = false;

  /**
   * @param count most buffers out at once: this bounds the source's chunk memory whatever
   *   lags behind (the sockets, or a hash slower than the network, such as md5).
   * @param budget bytes shared with every other pool (the agent's budget unless a test gives its own)
   */
  constructor(private readonly size: number, count: number, private readonly budget: Semaphore = agentSourceBuffers) {
    this.slots = new Semaphore(count);
  }

  async get(signal: AbortSignal): Promise<Buffer> {
    await this.slots.acquire(1, signal);
    try {
      // Held only while bytes are read, queued or sent: a buffer out always comes back without
      // waiting for another one, so sessions waiting here cannot wait on each other in a circle.
      await this.budget.acquire(this.size, signal);
    } catch (err) {
      this.slots.release(1);
      throw err;
    }
    if (this.closed) {
      this.budget.release(this.size);
      throw canceledError('the session is over');
    }
    this.out += 1;
    return spareBuffers.take(this.size) ?? Buffer.from(new SharedArrayBuffer(this.size));
  }

  put(buf: Buffer): void {
    spareBuffers.give(buf);
    // After close() the budget already has this buffer's share back.
    if (this.closed) return;
    this.out -= 1;
    this.budget.release(this.size);
    this.slots.release(1);
  }

  /**
   * The session is over: whatever it still has out (a unit left in the send queue, one whose
   * push was aborted, a read cut short) is given back to the budget now. Without this each
   * failed session kept its share, and after a few the agent's other sessions waited forever
   * for buffers (a source that had failed eight attempts hung on the ninth).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.release(this.out * this.size);
    this.out = 0;
  }
}

/**
 * Bytes of chunk and batch buffers all source sessions of an agent hold at once: two sessions
 * at full speed with the default tuning (12 buffers of 4 MiB each). A buffer bigger than what
 * is left waits; one bigger than the whole budget is still let through when nothing else is out.
 */
export const AGENT_SOURCE_BUFFER_BYTES = 96 * 1024 * 1024;
const agentSourceBuffers = new Semaphore(AGENT_SOURCE_BUFFER_BYTES);

/**
 * Idle chunk buffers of every session of the process: as many as the budget holds of the default
 * chunk size. Those let go may still be wrapped by an I/O worker that hashed or filled them.
 */
const spareBuffers = new IdleBuffers(Math.floor(AGENT_SOURCE_BUFFER_BYTES / DEFAULT_TUNING.chunkSize), 2000, bufferDropped);

export interface ChunkJob {
  i: number;
  /** The file, relative to a checked directory (or by path, opened O_NOFOLLOW). */
  hostPath: FileRef;
  apiPath: string;
  size: number;
  ranges: ByteRange[];
}

export interface ChunkReaderDeps {
  queue: SendQueue;
  pool: BufferPool;
  /** Bytes of data per chunk; pool buffers hold CHUNK_HEAD_BYTES more. */
  chunkSize: number;
  checksummer: Checksummer;
  signal: AbortSignal;
  corruptChunk: ((fileIndex: number, offset: number) => boolean) | undefined;
}

/**
 * Read the requested ranges of one file in order, cut them into CHUNK frames with their
 * CRC-32, and queue them for the data streams (waiting while the queue is full). A request for
 * the whole file also yields the whole-file checksum, computed as the bytes are read.
 * Resolves with that checksum, or null for a partial request.
 */
export async function sendFileChunks(job: ChunkJob, deps: ChunkReaderDeps): Promise<string | null> {
  const whole = job.ranges.length === 1 && job.ranges[0]!.offset === 0 && job.ranges[0]!.length === job.size;
  // The walk saw a file here; a link swapped in since is refused (ELOOP), not followed.
  const fh = await openRefHandle(job.hostPath, constants.O_RDONLY);
  let hash: StreamingHash | null = null;
  try {
    const st = await fh.stat();
    if (st.size !== job.size) throw changed(job);
    hash = whole ? await deps.checksummer.stream(job.size) : null;
    for (const range of job.ranges) {
      let offset = range.offset;
      const end = range.offset + range.length;
      while (offset < end) {
        deps.signal.throwIfAborted();
        const length = Math.min(deps.chunkSize, end - offset);
        const buf = await deps.pool.get(deps.signal);
        // Back to the pool once both the socket and the hash are done with it.
        let holders = 2;
        const release = (): void => {
          if (--holders === 0) deps.pool.put(buf);
        };
        let read: { bytesRead: number; crc: number };
        try {
          // The read, its CRC and the whole-file hash in one step (natively off this thread).
          read = await summedReads.read(fh, buf, CHUNK_HEAD_BYTES, length, offset, hash, release);
        } catch (err) {
          // A failed read fed no hash: the buffer is ours alone.
          deps.pool.put(buf);
          throw err;
        }
        const { bytesRead, crc } = read;
        if (bytesRead !== length) {
          release();
          throw changed(job);
        }
        const data = buf.subarray(CHUNK_HEAD_BYTES, CHUNK_HEAD_BYTES + length);
        if (deps.corruptChunk?.(job.i, offset) && length > 0) {
          // Damage a copy: the hash may still be reading the original.
          const bad = Buffer.from(data);
          bad[0] = bad[0]! ^ 0xff;
          await deps.queue.push({ frames: [[encodeChunkHead(job.i, offset, crc, length), bad]], cost: length, done: release });
        } else {
          // Header and data in one buffer: a TLS socket given several buffers for one write
          // first copies them into a freshly allocated one (Node's TLSWrap), which cost the
          // source ~10 % of its CPU in page faults and copying (perf, case e); one buffer is
          // encrypted from where it lies. Clear-text streams still write it with its MAC.
          encodeChunkHead(job.i, offset, crc, length, buf);
          await deps.queue.push({ frames: [[buf.subarray(0, CHUNK_HEAD_BYTES + length)]], cost: length, done: release });
        }
        offset += length;
      }
    }
    const checksum = hash ? await hash.digest() : null;
    hash = null;
    return checksum;
  } finally {
    hash?.dispose();
    await fh.close();
  }
}

function changed(job: ChunkJob): Error {
  return transferError('Transfer.SourceChanged', `The source file changed size while it was being sent: ${job.apiPath}`, 'FILE_SIZE_CHANGED');
}
