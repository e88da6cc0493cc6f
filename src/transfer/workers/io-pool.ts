import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FerryError } from '../../common/errors.js';
import type { FileRef } from '../../fs/file-ref.js';
import type { ChecksumAlgorithm } from '../../protocol/session.js';
import type { StreamingHash } from '../checksum/hash.js';
import type { AnsweredOp, CommitReply, CommitResult, CommitWireFile, IoOp, IoOps, IoReplyMessage, IoReplyOf, ReadIntoResult, StatResult } from './messages.js';
import type { FileIdentity } from '../../fs/index.js';
import { IdleBuffers } from '../util/idle-buffers.js';
import { bufferDropped, onSharedMemoryDropped, sharedMemoryDropped } from './shared-drops.js';

export type { CommitReply, CommitResult, StatResult } from './messages.js';

/**
 * Worker threads for hashing and batched file-system work (io-worker.ts says why).
 * Pools are shared by every session of the process; workers start on first use and are
 * unref'd while idle, so they never keep the process alive, and one left idle for
 * WORKER_IDLE_MS is ended (below). A streaming hash sticks to one worker (its updates must
 * stay in order); other calls go round-robin.
 */

/** What an answered op's request carries besides op and id. */
type CallBody<O extends AnsweredOp> = Omit<IoOps[O]['request'], 'id'>;

/**
 * The worker's entry file. Node 20 cannot run TypeScript in a worker, so it is always the
 * compiled io-worker.js: next to this file when this file is compiled (dist/); when this file
 * runs from the TypeScript sources (vitest imports src/), at the same place under the
 * package's dist/ (npm test builds first).
 */
export function ioWorkerUrl(from: string = import.meta.url): URL {
  const here = new URL(from);
  here.search = '';
  here.hash = '';
  if (here.pathname.endsWith('.js')) return new URL('./io-worker.js', here);
  const notBuilt = (): FerryError => new FerryError('InternalError', 'the I/O worker is not built: run npm run build');
  const dir = dirname(fileURLToPath(here));
  let root = dir;
  while (!existsSync(join(root, 'package.json'))) {
    const up = dirname(root);
    if (up === root) throw notBuilt();
    root = up;
  }
  const inSrc = relative(join(root, 'src'), dir);
  if (inSrc.startsWith('..') || isAbsolute(inSrc)) throw notBuilt();
  const file = join(root, 'dist', inSrc, 'io-worker.js');
  if (!existsSync(file)) throw notBuilt();
  return pathToFileURL(file);
}

let workerUrl: URL | null = null;

/**
 * A worker's isolate otherwise gets the main thread's young generation (tens of MB of semi-space
 * that its short-lived objects fill and keep resident): two busy workers cost about 150 MB of RSS
 * with the default and about 65 MB with a 4 MB young generation. The workers hold few live
 * objects (file names, replies), so a small nursery costs only a few more scavenges.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 } as const;

/**
 * A worker with nothing to do for this long is ended: each holds its own isolate (about 10 MB
 * of an idle agent's memory), and starting one again costs tens of milliseconds, nothing next
 * to a task's round trips. Long enough that back-to-back tasks keep their workers.
 */
export const WORKER_IDLE_MS = 15_000;

class PooledWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, { resolve: (r: IoReplyMessage) => void; reject: (e: unknown) => void }>();
  dead = false;
  /** Streaming hashes open on this worker: their state lives there until dropped. */
  private streams = 0;
  private idleSince = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(url: URL, onDeath: (w: PooledWorker) => void, private readonly idleMs: number, private readonly onIdle: (w: PooledWorker) => void) {
    this.worker = new Worker(url, { resourceLimits: WORKER_LIMITS });
    this.worker.unref();
    this.worker.on('message', (m: IoReplyMessage) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.refresh();
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve(m);
    });
    const die = (err: unknown): void => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      const failure = new FerryError('InternalError', `I/O worker stopped: ${err instanceof Error ? err.message : String(err)}`);
      for (const p of this.pending.values()) p.reject(failure);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
    this.armIdleTimer(idleMs);
  }

  /** Keep the process alive only while a reply is awaited; watch for idleness otherwise. */
  private refresh(): void {
    if (this.pending.size > 0) this.worker.ref(); else this.worker.unref();
    if (!this.busy) {
      this.idleSince = Date.now();
      this.armIdleTimer(this.idleMs);
    }
  }

  private get busy(): boolean {
    return this.pending.size > 0 || this.streams > 0;
  }

  /** One timer per worker, re-armed for what is left rather than made anew on every reply. */
  private armIdleTimer(ms: number): void {
    if (this.idleTimer !== null || this.dead) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.dead || this.busy) return;
      const left = this.idleSince + this.idleMs - Date.now();
      if (left > 0) this.armIdleTimer(left);
      else this.onIdle(this);
    }, ms);
    this.idleTimer.unref();
  }

  openStream(stream: number, algorithm: ChecksumAlgorithm): void {
    this.streams += 1;
    this.post('open', { stream, algorithm });
  }

  /** The stream ends: dropped (told to the worker), or digested (the worker ends it itself). */
  endStream(stream: number, drop: boolean): void {
    if (drop) this.post('drop', { stream });
    this.streams -= 1;
    this.refresh();
  }

  /** Ended for idleness: nothing is pending, so nothing is lost. */
  retire(): void {
    this.dead = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    void this.worker.terminate();
  }

  call<O extends AnsweredOp>(id: number, op: O, body: CallBody<O>, transfer?: ArrayBuffer[]): Promise<IoReplyOf<O>> {
    if (this.dead) return Promise.reject(new FerryError('InternalError', 'I/O worker stopped'));
    return new Promise((resolve, reject) => {
      // The reply to `id` is the reply of `op` (the worker answers each request with its op's).
      this.pending.set(id, { resolve: resolve as (r: IoReplyMessage) => void, reject });
      this.refresh();
      this.worker.postMessage({ op, ...body, id }, transfer ?? []);
    });
  }

  /** A request that is not answered (an update without id: its bytes were copied). */
  post<O extends Exclude<IoOp, AnsweredOp> | 'update'>(op: O, body: IoOps[O]['request'], transfer?: ArrayBuffer[]): void {
    if (!this.dead) this.worker.postMessage({ op, ...body }, transfer ?? []);
  }
}

/**
 * Shared buffers kept for commit groups' bytes, and the largest one kept. A group holds at most
 * the committer's limit of small files' bytes (8 MiB) plus one batch, so its buffer (sizes are
 * powers of two) is at most 16 MiB; a smaller limit here made every such group allocate a fresh
 * buffer, and fresh memory costs a page fault per page touched on this kind of VM (measured:
 * copying 160 MiB into fresh 16 MiB shared buffers took 0.6-1.0 s of the destination's main
 * thread, into a reused one 60-70 ms). Idle ones are let go after IDLE_MS (IdleBuffers).
 */
const COMMIT_BUFFERS_KEPT = 4;
const COMMIT_BUFFER_KEPT_BYTES = 16 * 1024 * 1024;
const COMMIT_BUFFER_IDLE_MS = 2000;

export interface ReadResult {
  /** The file's bytes (a view into one buffer shared by the batch), or null with errno. */
  data: Buffer | null;
  checksum: string;
  errno?: string;
  message?: string;
}

export interface CommitRequest {
  /** The directory holding both names, held open by the caller until the commit returns. */
  dirFd: number;
  /** Names in that directory. */
  partial: string;
  final: string;
  /** For a partial written by the session: its device and inode (the worker refuses another file). */
  identity?: FileIdentity;
  /** Bytes to write first (small files); absent when the partial file is already written. */
  data?: Uint8Array | null;
  mode: number;
  /** null: leave the mtime as written. */
  mtimeMs: number | null;
  /** Re-read and compare with `expected` before committing. */
  verify: ChecksumAlgorithm | null;
  expected: string;
}

export class IoPool {
  private readonly workers: PooledWorker[] = [];
  private nextId = 1;
  private turn = 0;

  /** @param idleMs how long a worker may sit idle before it is ended (tests shorten it) */
  constructor(private size: number, private readonly idleMs: number = WORKER_IDLE_MS) {}

  /** Workers running now. */
  get running(): number {
    return this.workers.length;
  }

  resize(size: number): void {
    this.size = Math.max(this.size, size, 1);
  }

  /**
   * Have every running worker run a full collection of its own isolate (after the requests
   * posted before): what it still wraps of shared buffers the main thread let go is then freed
   * (shared-drops.ts). Idle workers too; none is started for it.
   */
  collectGarbage(): void {
    for (const w of this.workers) w.post('collect', {});
  }

  private pick(): PooledWorker {
    if (this.workers.length < this.size) {
      workerUrl ??= ioWorkerUrl();
      const forget = (w: PooledWorker): void => {
        const at = this.workers.indexOf(w);
        if (at >= 0) this.workers.splice(at, 1);
      };
      const w = new PooledWorker(workerUrl, forget, this.idleMs, (idle) => {
        forget(idle);
        idle.retire();
      });
      this.workers.push(w);
      return w;
    }
    this.turn = (this.turn + 1) % this.workers.length;
    return this.workers[this.turn]!;
  }

  private call<O extends AnsweredOp>(op: O, body: CallBody<O>, transfer?: ArrayBuffer[]): Promise<IoReplyOf<O>> {
    return this.pick().call(this.nextId++, op, body, transfer);
  }

  /**
   * A streaming hash on a worker. Bytes in a SharedArrayBuffer are hashed in place (zero copy;
   * `release` runs once the worker is done with them); other bytes are copied once.
   */
  createHash(algorithm: ChecksumAlgorithm): StreamingHash {
    const worker = this.pick();
    const stream = this.nextId++;
    worker.openStream(stream, algorithm);
    let ended = false;
    const end = (drop: boolean): void => {
      if (ended) return;
      ended = true;
      worker.endStream(stream, drop);
    };
    return {
      update: (data: Uint8Array, release?: () => void) => {
        if (data.buffer instanceof SharedArrayBuffer && release) {
          // A plain Uint8Array view: a Buffer is cloned as a host object, measured ten times
          // slower to post (about 1 s of the source's main thread per 2 GiB).
          const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          worker.call(this.nextId++, 'update', { stream, data: view }).then(release, release);
          return;
        }
        const copy = new Uint8Array(data.byteLength);
        copy.set(data);
        worker.post('update', { stream, data: copy }, [copy.buffer]);
        release?.();
      },
      updateFromFile: async (path: FileRef, offset: number, length: number, direct?: boolean) => {
        return (await worker.call(this.nextId++, 'updateFile', { stream, path, offset, length, direct: direct === true })).direct;
      },
      digest: async () => {
        // Counted out before the call, which keeps the worker busy until its reply.
        const reply = worker.call(this.nextId++, 'digest', { stream });
        end(false);
        return (await reply).checksum;
      },
      dispose: () => end(true),
    };
  }

  /** Hash a whole file (the worker reads it). */
  async hashFile(path: FileRef, algorithm: ChecksumAlgorithm): Promise<{ checksum: string; bytes: number }> {
    const r = await this.call('file', { path, algorithm });
    return { checksum: r.checksum, bytes: r.bytes };
  }

  /** lstat many paths in one round trip. */
  async lstatMany(paths: readonly FileRef[]): Promise<StatResult[]> {
    return (await this.call('lstat', { paths })).stats;
  }

  /** Read and hash small whole files; each must still have its expected size. */
  async readFiles(files: ReadonlyArray<{ path: FileRef; size: number }>, algorithm: ChecksumAlgorithm): Promise<ReadResult[]> {
    const r = await this.call('read', { files, algorithm });
    const all = Buffer.from(r.buffer);
    return r.results.map((x, k) => (
      'errno' in x
        ? { data: null, checksum: '', errno: x.errno, ...(x.message === undefined ? {} : { message: x.message }) }
        : { data: all.subarray(x.offset, x.offset + files[k]!.size), checksum: x.checksum }
    ));
  }

  /**
   * Read small whole files into their places in `target` (a view of a SharedArrayBuffer, e.g.
   * a tar batch being laid out): `at` is relative to the view. Each file must still have its
   * expected size. Returns each file's checksum, or errno ('ECHANGED': its size changed).
   */
  async readInto(files: ReadonlyArray<{ path: FileRef; size: number; at: number }>, target: Buffer, algorithm: ChecksumAlgorithm): Promise<Array<{ checksum?: string; errno?: string; message?: string }>> {
    if (!(target.buffer instanceof SharedArrayBuffer)) throw new FerryError('InternalError', 'readInto needs a buffer in shared memory');
    const base = target.byteOffset;
    const wire = files.map((f) => ({ path: f.path, size: f.size, at: base + f.at }));
    const r = await this.call('readInto', { files: wire, target: target.buffer, algorithm });
    return r.results satisfies ReadIntoResult[];
  }

  /** Verify, set mode and mtime, fsync (or one syncfs for many), rename a group of files; then fsync their directories once. */
  async commit(files: readonly CommitRequest[], durable: boolean): Promise<CommitReply> {
    // The group's bytes travel in one shared buffer, reused from group to group: no clone per
    // file, and no fresh (page-faulting) allocation per group. They are copied before the first
    // await, so callers may reuse their buffers as soon as this returns its promise.
    const total = files.reduce((n, f) => n + (f.data?.length ?? 0), 0);
    const shared = total > 0 ? this.takeCommitBuffer(total) : null;
    const data = shared ? Buffer.from(shared) : null;
    let at = 0;
    // Fields named one by one, no object rest or spread: this runs once per small file, and the
    // spreads were 0.15 s of the destination's main thread per 20,000 files (profiled).
    const wire = files.map((f): CommitWireFile => {
      const w: CommitWireFile = { dirFd: f.dirFd, partial: f.partial, final: f.final, mode: f.mode, mtimeMs: f.mtimeMs, verify: f.verify, expected: f.expected };
      if (f.identity !== undefined) w.identity = f.identity;
      const bytes = f.data;
      if (bytes) {
        // A zero-byte file (even in a group with no other bytes) still needs its partial created.
        if (bytes.length > 0) data!.set(bytes, at);
        w.dataOffset = at;
        w.dataLength = bytes.length;
        at += bytes.length;
      }
      return w;
    });
    try {
      const r = await this.call('commit', { files: wire, durable, data: shared });
      return { results: r.results, dirError: r.dirError ?? null, synced: r.synced };
    } finally {
      if (shared) this.giveCommitBuffer(shared);
    }
  }

  /** Idle commit buffers (views of SharedArrayBuffers of power-of-two sizes). */
  private readonly commitBuffers = new IdleBuffers(COMMIT_BUFFERS_KEPT, COMMIT_BUFFER_IDLE_MS, bufferDropped);

  private takeCommitBuffer(bytes: number): SharedArrayBuffer {
    let size = 1024 * 1024;
    while (size < bytes) size *= 2;
    // The smallest idle buffer that fits, else a new one of the smallest size that fits.
    for (let s = size; s <= COMMIT_BUFFER_KEPT_BYTES; s *= 2) {
      const kept = this.commitBuffers.take(s);
      if (kept) return kept.buffer as SharedArrayBuffer;
    }
    return new SharedArrayBuffer(size);
  }

  private giveCommitBuffer(b: SharedArrayBuffer): void {
    // A few are enough for the groups in flight; an unusually big one is not kept.
    if (b.byteLength <= COMMIT_BUFFER_KEPT_BYTES) this.commitBuffers.give(Buffer.from(b));
    else sharedMemoryDropped(b.byteLength);
  }

  async close(): Promise<void> {
    const all = this.workers.splice(0);
    await Promise.all(all.map((w) => w.worker.terminate()));
  }
}

const shared = new Map<string, IoPool>();

/** Every shared pool's workers collect now (an idle agent's collections: agent/transfer/idle-collect.ts). */
export function collectWorkerGarbage(): void {
  for (const pool of shared.values()) pool.collectGarbage();
}
onSharedMemoryDropped(collectWorkerGarbage);

/** The process-wide pool for `purpose` ('hash' or 'fs'), grown to at least `size` workers. */
export function sharedIoPool(purpose: 'hash' | 'fs', size: number): IoPool {
  let pool = shared.get(purpose);
  if (!pool) {
    pool = new IoPool(size);
    shared.set(purpose, pool);
  } else {
    pool.resize(size);
  }
  return pool;
}
