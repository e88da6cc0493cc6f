import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullCollection } from '../../../../src/transfer/util/full-collection.js';
import { IoPool } from '../../../../src/transfer/workers/io-pool.js';
import { DROPPED_BYTES_PER_COLLECTION, bufferDropped, onSharedMemoryDropped, sharedMemoryDropped } from '../../../../src/transfer/workers/shared-drops.js';

const MiB = 1024 * 1024;

describe('shared memory the pools let go', () => {
  it('asks for a collection once every DROPPED_BYTES_PER_COLLECTION, and counts only shared buffers', () => {
    let asked = 0;
    const stop = onSharedMemoryDropped(() => { asked += 1; });
    try {
      sharedMemoryDropped(DROPPED_BYTES_PER_COLLECTION); // whatever was counted before: at least one, and the count restarts
      const base = asked;
      expect(base).toBeGreaterThanOrEqual(1);
      sharedMemoryDropped(DROPPED_BYTES_PER_COLLECTION - 1);
      bufferDropped(Buffer.alloc(DROPPED_BYTES_PER_COLLECTION)); // not shared: the isolate frees it itself
      expect(asked).toBe(base);
      bufferDropped(Buffer.from(new SharedArrayBuffer(1)));
      expect(asked).toBe(base + 1);
    } finally {
      stop();
    }
    sharedMemoryDropped(DROPPED_BYTES_PER_COLLECTION);
    expect(asked).toBeGreaterThanOrEqual(1);
  });
});

describe('an I/O worker that hashed shared buffers in place', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-shared-drops-'));
    file = join(dir, 'f');
    await writeFile(file, 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lets their memory go once told to collect, after the main thread dropped them', async () => {
    const gc = fullCollection();
    expect(gc).not.toBeNull();
    const collectHere = (): void => { gc!(); gc!(); };
    const pool = new IoPool(1, 60_000);
    try {
      await pool.lstatMany([file]); // the worker is up before anything is measured
      collectHere();
      const start = process.memoryUsage().arrayBuffers;
      // 24 chunks of 4 MiB, hashed in place on the worker (as the source hashes what it sends).
      const hash = pool.createHash('sha256');
      for (let i = 0; i < 24; i++) {
        const chunk = Buffer.from(new SharedArrayBuffer(4 * MiB)).fill(i);
        await new Promise<void>((release) => hash.update(chunk, release));
      }
      expect(await hash.digest()).toMatch(/^[0-9a-f]{64}$/);
      // The main thread holds none of them any more and has collected.
      collectHere();
      // The premise: the worker's wrappers still hold them (its own collections come from how
      // much it allocates, and it allocates next to nothing).
      expect(process.memoryUsage().arrayBuffers - start).toBeGreaterThanOrEqual(64 * MiB);
      pool.collectGarbage();
      await pool.lstatMany([file]); // answered after the collection posted before it
      collectHere();
      const after = process.memoryUsage().arrayBuffers;
      expect(after - start).toBeLessThan(8 * MiB);
    } finally {
      await pool.close();
    }
  });
});
