import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoPool } from '../../../../src/transfer/workers/io-pool.js';

// Idle workers are ended (each holds an isolate: memory an idle agent keeps for nothing); a
// worker holding a streaming hash's state is not, whatever the time.

const IDLE_MS = 100;

/** Resolves once `probe` holds (bounded by the test's timeout; nothing is asserted about time). */
async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((r) => setTimeout(r, 10));
}

describe('I/O pool workers left idle', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-io-idle-'));
    file = join(dir, 'f.bin');
    await writeFile(file, Buffer.alloc(1000, 7));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are ended, and the next call starts one again', async () => {
    const pool = new IoPool(2, IDLE_MS);
    try {
      // Both workers are started at once (checked before awaiting: on a loaded machine the first
      // can be idle for IDLE_MS, and ended, before the second's isolate is up).
      const both = Promise.all([pool.lstatMany([file]), pool.lstatMany([file])]);
      expect(pool.running).toBe(2);
      await both;
      await until(() => pool.running === 0);
      const [st] = await pool.lstatMany([file]);
      expect(st).toMatchObject({ size: 1000 });
      expect(pool.running).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('one holding an open streaming hash stays until the hash is digested, and its digest is right', async () => {
    const pool = new IoPool(2, IDLE_MS);
    try {
      const hash = pool.createHash('sha256'); // on the first worker
      await pool.lstatMany([file]); // starts the second, which has nothing open
      expect(pool.running).toBe(2);
      hash.update(Buffer.from('abc'));
      await until(() => pool.running === 1);
      // The survivor still holds the stream's state.
      expect(await hash.digest()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      await until(() => pool.running === 0);
    } finally {
      await pool.close();
    }
  });

  it('one whose hash was disposed is ended too', async () => {
    const pool = new IoPool(1, IDLE_MS);
    try {
      const hash = pool.createHash('md5');
      hash.update(Buffer.from('x'));
      hash.dispose();
      hash.dispose(); // twice is once
      await until(() => pool.running === 0);
    } finally {
      await pool.close();
    }
  });
});
