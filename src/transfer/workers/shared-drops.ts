/**
 * Shared memory the main thread lets go of, counted so the I/O workers collect in time.
 *
 * A SharedArrayBuffer posted to a worker (a chunk to hash in place, a batch to read into, a
 * commit group's bytes) gets a wrapper in the worker's isolate, and its memory is freed only
 * when every isolate holding one has collected it. The workers allocate almost nothing of their
 * own, so they seldom collect, and dead 4-16 MiB buffers piled up there by the tens of
 * megabytes: in the bench's twelve back-to-back mixed-tree runs the agents' peak climbed from
 * about 230 to 280-317 MB, and after the main thread's own full collection the destination
 * still held 260 MB, about 110 of it neither its heap, its buffers nor mapped files. The pools
 * report each shared buffer they drop here; every DROPPED_BYTES_PER_COLLECTION the workers are
 * told to collect (two full collections of its isolate, 5-9 ms each on the worker's own thread,
 * measured; about twice per agent per 1 GB mixed-tree run). With it the same runs peaked at 194-251 MB, no longer climbing.
 */
export const DROPPED_BYTES_PER_COLLECTION = 32 * 1024 * 1024;

let droppedSinceCollection = 0;
const collectors = new Set<() => void>();

/** Run `collect` (ask workers to collect) whenever enough shared memory was dropped. Returns the unsubscribe. */
export function onSharedMemoryDropped(collect: () => void): () => void {
  collectors.add(collect);
  return () => collectors.delete(collect);
}

/** A pool let go of a shared buffer of `bytes` (it may still be wrapped in a worker). */
export function sharedMemoryDropped(bytes: number): void {
  droppedSinceCollection += bytes;
  if (droppedSinceCollection < DROPPED_BYTES_PER_COLLECTION) return;
  droppedSinceCollection = 0;
  for (const collect of collectors) collect();
}

/** A Buffer's bytes, reported as dropped when they live in shared memory (others are the isolate's own to free). */
export function bufferDropped(buf: Buffer): void {
  if (buf.buffer instanceof SharedArrayBuffer) sharedMemoryDropped(buf.buffer.byteLength);
}
