import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { FerryError } from '../../common/errors.js';
import type { ChecksumAlgorithm } from '../../protocol/session.js';
import type { StreamingHash } from './hash.js';
import { HASH_WORKER_SOURCE } from './hash-worker-source.js';

/**
 * Worker threads that hash big files off the event loop (md5 runs at about 0.5 GB/s, sha256
 * at about 1.4 GB/s on one core: on the loop they would cap a session that also runs TLS).
 * Shared by every session of the process; workers start on first use and are unref'd, so
 * an idle pool never keeps the process alive. A streaming hash sticks to one worker (its
 * updates must stay in order); whole-file hashes go round-robin.
 */

interface Pending {
  resolve: (value: { checksum: string; bytes?: number }) => void;
  reject: (err: unknown) => void;
}

class PooledWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;

  constructor(hashWasmPath: string, onDeath: (w: PooledWorker) => void) {
    this.worker = new Worker(HASH_WORKER_SOURCE, { eval: true, workerData: { hashWasmPath } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; checksum?: string; bytes?: number; error?: { code: string; message: string } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.refresh();
      if (m.error) {
        const err = Object.assign(new Error(m.error.message), { code: m.error.code });
        p.reject(err);
      } else {
        p.resolve({ checksum: m.checksum ?? '', ...(m.bytes === undefined ? {} : { bytes: m.bytes }) });
      }
    });
    const die = (err: unknown): void => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      const failure = new FerryError('InternalError', `hash worker stopped: ${err instanceof Error ? err.message : String(err)}`);
      for (const p of this.pending.values()) p.reject(failure);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  /** Keep the process alive only while a reply is awaited. */
  refresh(): void {
    if (this.pending.size > 0) this.worker.ref(); else this.worker.unref();
  }

  call(id: number, message: Record<string, unknown>, transfer?: ArrayBuffer[]): Promise<{ checksum: string; bytes?: number }> {
    if (this.dead) return Promise.reject(new FerryError('InternalError', 'hash worker stopped'));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.refresh();
      this.worker.postMessage({ ...message, id }, transfer ?? []);
    });
  }

  post(message: Record<string, unknown>, transfer?: ArrayBuffer[]): void {
    if (!this.dead) this.worker.postMessage(message, transfer ?? []);
  }
}

export class HashPool {
  private readonly workers: PooledWorker[] = [];
  private nextId = 1;
  private turn = 0;
  private readonly hashWasmPath = createRequire(import.meta.url).resolve('hash-wasm');

  constructor(private size: number) {}

  resize(size: number): void {
    this.size = Math.max(1, size);
  }

  private pick(): PooledWorker {
    if (this.workers.length < this.size) {
      const w = new PooledWorker(this.hashWasmPath, (dead) => {
        const at = this.workers.indexOf(dead);
        if (at >= 0) this.workers.splice(at, 1);
      });
      this.workers.push(w);
      return w;
    }
    this.turn = (this.turn + 1) % this.workers.length;
    return this.workers[this.turn]!;
  }

  /**
   * A streaming hash computed on a worker. Bytes in a SharedArrayBuffer are hashed in place
   * (zero copy; `release` runs when the worker is done with them); other bytes are copied once.
   */
  createHash(algorithm: ChecksumAlgorithm): StreamingHash {
    const worker = this.pick();
    const id = this.nextId++;
    worker.post({ op: 'open', stream: id, algorithm });
    return {
      update: (data: Uint8Array, release?: () => void) => {
        if (data.buffer instanceof SharedArrayBuffer && release) {
          worker.call(this.nextId++, { op: 'update', stream: id, data }).then(release, release);
          return;
        }
        const copy = new Uint8Array(data.byteLength);
        copy.set(data);
        worker.post({ op: 'update', stream: id, data: copy }, [copy.buffer]);
        release?.();
      },
      digest: async () => (await worker.call(this.nextId++, { op: 'digest', stream: id })).checksum,
      dispose: () => worker.post({ op: 'drop', stream: id }),
    };
  }

  /** Hash a whole file on a worker (the worker reads it). */
  async hashFile(path: string, algorithm: ChecksumAlgorithm): Promise<{ checksum: string; bytes: number }> {
    const id = this.nextId++;
    const r = await this.pick().call(id, { op: 'file', path, algorithm });
    return { checksum: r.checksum, bytes: r.bytes ?? 0 };
  }

  /** Stop every worker (tests, daemon shutdown). */
  async close(): Promise<void> {
    const all = this.workers.splice(0);
    await Promise.all(all.map((w) => w.worker.terminate()));
  }
}

let shared: HashPool | null = null;

export function sharedHashPool(size: number): HashPool {
  if (!shared) shared = new HashPool(size);
  else shared.resize(Math.max(size, 1));
  return shared;
}
