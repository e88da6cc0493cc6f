import { availableParallelism } from 'node:os';
import { FerryError } from '../common/errors.js';
import { CHUNK_HEADER_BYTES, MAX_BATCH_BYTES, MAX_BATCH_FILES, MAX_MANIFEST_ENTRIES } from '../protocol/data-frames.js';
import { MAX_FRAME_PAYLOAD } from '../protocol/frames.js';

/**
 * Every size, window and interval of the session engine, as named defaults that `init.tuning`
 * may override (STYLE §11): tests run with tiny chunks and windows instead of huge files.
 * Tuning is local to one side; nothing here has to match the peer.
 */
export interface TransferTuning {
  /** Bytes per CHUNK frame (source). */
  chunkSize: number;
  /** Files of at most this size travel in tar batches when wanted whole (source). */
  smallFileThreshold: number;
  /** A batch closes at this many file bytes or files (source). */
  batchBytes: number;
  batchMaxFiles: number;
  /** Manifest entries the source may have announced and the destination not yet retired. */
  manifestWindow: number;
  /** Entries per MANIFEST frame (source). */
  manifestBatch: number;
  /** Chunked (large) files the destination keeps requested at once. */
  largeFilesInFlight: number;
  /** Files the source reads at once (each one sequentially, so its checksum streams). */
  readConcurrency: number;
  /** Bytes of read-ahead chunks and batches queued for the data streams (source). */
  sendQueueBytes: number;
  /** Disk writes each data stream may have outstanding before it stops reading (destination). */
  writesPerStream: number;
  /** Decoded frames a stream buffers before it stops reading its socket. */
  receiveQueueBytes: number;
  /** Destination files stat'ed / decided at once. */
  decideConcurrency: number;
  /** Files made durable together (fsync, rename, one fsync per directory), and groups at once. */
  commitBatch: number;
  commitConcurrency: number;
  /** Entries per lstat round trip to an fs worker. */
  statBatch: number;
  /** Destination progress reports while running. */
  progressIntervalMs: number;
  /** Re-sends of one file (corrupt chunks, verify mismatches) before the session fails. */
  maxFileRetries: number;
  /** Files at least this big are hashed on a worker thread instead of the event loop (and, with verify_checksum, verified as they are written). */
  offThreadHashBytes: number;
  /** verify_checksum of a chunked file: hash its written prefix whenever this many new bytes are on disk. */
  verifyStepBytes: number;
  /** Worker threads for hashing, and for batched file-system work (shared by the sessions of a process). */
  hashWorkers: number;
  fsWorkers: number;
  /** Flush as you go (destination): fdatasync a large file's partial after this many bytes, then record the ranges as restart markers. */
  flushBytes: number;
  /** fsync files and directories before reporting them (benchmarks against tools that do not fsync may turn it off). */
  durable: boolean;
  /** Destination: write large files' aligned chunks with O_DIRECT, bypassing the page cache (partial-file.ts); with verify_checksum they are read back the same way. */
  directIo: boolean;
  /** Source with spare streams: how often the running ones are checked for loss (stream-growth.ts). */
  streamGrowthIntervalMs: number;
  /** After a failure, how long to let the peer read our ERROR before the sockets are destroyed. */
  closeGraceMs: number;
  /** Test hook (source): corrupt the chunk of `fileIndex` at `offset` after its checksum is taken. Batch frames pass the first file of the batch and the offset in its tar bytes. */
  corruptChunk?: (fileIndex: number, offset: number) => boolean;
  /** Test hook (destination): corrupt data on its way to disk, after the chunk check (shows verify_checksum at work). */
  corruptWrite?: (fileIndex: number, offset: number) => boolean;
}

const MiB = 1024 * 1024;

export const DEFAULT_TUNING: Readonly<TransferTuning> = Object.freeze({
  chunkSize: 4 * MiB,
  smallFileThreshold: 256 * 1024,
  batchBytes: 4 * MiB,
  batchMaxFiles: 512,
  // Every announced entry costs the destination a few objects until it is retired: 4096 keeps
  // 4 KiB files flowing (two commit groups plus the batches in transit) and the agent's heap
  // small (measured for 20,000 such files: peak RSS 271 MB with 8192, 240 MB with 4096).
  manifestWindow: 2048,
  manifestBatch: 512,
  largeFilesInFlight: 4,
  readConcurrency: 4,
  // Behind the sockets' own buffers (kernel and TLS, about 8 MiB a stream when full); the
  // source's page-cache reads refill it within milliseconds, so more would only be RSS.
  sendQueueBytes: 16 * MiB,
  // Writes to one file run one at a time (partial-file.ts): more queued writes per stream only hold
  // pooled 4 MiB frame buffers (RSS) without feeding the disk any faster. Per stream the
  // destination then holds one chunk being written, one decoded and waiting (a queue of more
  // than 2 MiB pauses the socket), and one being received: 12 buffers for 4 streams, where 2 and
  // 4 MiB held 20 (array buffers at the peak of a 2 GiB transfer: 122 -> 72 MB).
  writesPerStream: 1,
  receiveQueueBytes: 2 * MiB,
  decideConcurrency: 32,
  commitBatch: 512,
  commitConcurrency: 2,
  statBatch: 256,
  progressIntervalMs: 1000,
  maxFileRetries: 3,
  offThreadHashBytes: 8 * MiB,
  verifyStepBytes: 16 * MiB,
  hashWorkers: Math.max(1, Math.min(4, availableParallelism() - 1)),
  fsWorkers: Math.max(1, Math.min(4, availableParallelism() - 1)),
  flushBytes: 64 * MiB,
  directIo: true,
  durable: true,
  streamGrowthIntervalMs: 1000,
  closeGraceMs: 2000,
});

const POSITIVE: ReadonlyArray<keyof TransferTuning> = [
  'chunkSize', 'batchBytes', 'batchMaxFiles', 'manifestWindow', 'manifestBatch', 'largeFilesInFlight',
  'readConcurrency', 'sendQueueBytes', 'writesPerStream', 'receiveQueueBytes', 'decideConcurrency',
  'commitBatch', 'commitConcurrency', 'statBatch', 'progressIntervalMs', 'hashWorkers', 'fsWorkers', 'verifyStepBytes', 'flushBytes',
  'streamGrowthIntervalMs',
];

export function resolveTuning(overrides: Partial<TransferTuning> = {}): TransferTuning {
  const t: TransferTuning = { ...DEFAULT_TUNING, ...overrides };
  for (const key of POSITIVE) {
    const v = t[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new FerryError('Config.Invalid', `transfer tuning ${key} must be a positive integer`);
  }
  if (t.chunkSize > MAX_FRAME_PAYLOAD - CHUNK_HEADER_BYTES) throw new FerryError('Config.Invalid', 'transfer tuning chunkSize exceeds the frame limit');
  if (t.smallFileThreshold < 0 || t.smallFileThreshold > t.batchBytes) throw new FerryError('Config.Invalid', 'transfer tuning smallFileThreshold must lie between 0 and batchBytes');
  if (t.batchBytes > MAX_BATCH_BYTES) throw new FerryError('Config.Invalid', `transfer tuning batchBytes exceeds the protocol limit of ${MAX_BATCH_BYTES}`);
  t.batchMaxFiles = Math.min(t.batchMaxFiles, MAX_BATCH_FILES);
  t.manifestBatch = Math.min(t.manifestBatch, MAX_MANIFEST_ENTRIES);
  return t;
}

/**
 * The source's frame size when the session has spare streams (more data streams than
 * options.parallelism, stream-growth.ts): smaller frames, so that what both sides hold per stream
 * (at the destination about three frames each: one written, one queued, one arriving) stays near
 * what `parallelism` streams of full chunks hold once all the streams work: 16 streams of 1 MiB
 * frames instead of 4 of 4 MiB. Whole MiB, so chunk offsets stay aligned for direct I/O.
 */
export function chunkSizeFor(chunkSize: number, parallelism: number, dataStreams: number): number {
  if (dataStreams <= parallelism || chunkSize <= MiB) return chunkSize;
  return Math.max(MiB, Math.floor((chunkSize * parallelism) / dataStreams / MiB) * MiB);
}
