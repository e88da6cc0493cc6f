import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTransferPair, tempDir, type TransferPair } from '../helpers/cluster.js';
import { events, getTask, partialFiles, submitTransfer, waitForTask } from '../helpers/tasks.js';

/**
 * Write errors are never lost (Linux reports a write-back error to one fsync only: a file whose
 * flush failed once must never be committed on the strength of a later, successful one). The
 * destination agent runs with FERRY_TEST_FAULTS, the fs layer's seam that fails the chosen
 * calls on partial files only.
 */
const MiB = 1024 * 1024;

describe('write errors on the destination', () => {
  const dirs: Array<{ cleanup(): void }> = [];
  let pair: TransferPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
    for (const d of dirs.splice(0)) d.cleanup();
  });

  async function start(faults: string): Promise<{ srcRoot: string; dstRoot: string; pair: TransferPair }> {
    const dir = tempDir();
    dirs.push(dir);
    const srcRoot = join(dir.path, 'src');
    const dstRoot = join(dir.path, 'dst');
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    // Flush as you go every MiB, so a large file's partial is fdatasync'ed while it arrives.
    pair = await startTransferPair(dir.path, 'werr@example.org', srcRoot, dstRoot, {}, {
      launch: { env: { FERRY_TEST_FAULTS: faults } },
      config: { transfer: { flushMiB: 1 } },
    });
    return { srcRoot, dstRoot, pair };
  }

  it('fails the file on a failed fdatasync, says so in an event, and re-sends it on the retry', async () => {
    const { srcRoot, dstRoot, pair: p } = await start('fdatasync:EIO:1');
    const data = randomBytes(12 * MiB + 77);
    writeFileSync(join(srcRoot, 'big.bin'), data);
    const id = await submitTransfer(p.client, {
      source_endpoint: p.src.endpointId, destination_endpoint: p.dst.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: '/~/big.bin' }],
    });
    const task = await waitForTask(p.client, id);
    expect(task.status).toBe('SUCCEEDED');
    expect(readFileSync(join(dstRoot, 'big.bin')).equals(data)).toBe(true);
    const list = await events(p.client, id);
    // The failed attempt is in the event list with the error named.
    expect(list.some((e) => e.is_error && /EIO/.test(e.details) && e.details.includes('/~/big.bin'))).toBe(true);
    expect(partialFiles(dstRoot)).toEqual([]);
  });

  it('never commits a file whose fsync keeps failing', async () => {
    const { srcRoot, dstRoot, pair: p } = await start('fsync:EIO');
    writeFileSync(join(srcRoot, 'small.txt'), 'small file, committed by the I/O worker');
    writeFileSync(join(srcRoot, 'big.bin'), randomBytes(3 * MiB));
    const id = await submitTransfer(p.client, {
      source_endpoint: p.src.endpointId, destination_endpoint: p.dst.endpointId,
      DATA: [
        { DATA_TYPE: 'transfer_item', source_path: '/~/small.txt', destination_path: '/~/small.txt' },
        { DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: '/~/big.bin' },
      ],
    });
    // Wait for the failure to be reported, then stop the task (it would retry until its deadline).
    for (;;) {
      const list = await events(p.client, id);
      if (list.some((e) => e.is_error && /EIO/.test(e.details))) break;
      const t = await getTask(p.client, id);
      expect(t.status).not.toBe('SUCCEEDED');
      await new Promise((r) => setTimeout(r, 100));
    }
    await p.client.post(`/v0.10/task/${id}/cancel`);
    const task = await waitForTask(p.client, id);
    expect(task.status).not.toBe('SUCCEEDED');
    expect(existsSync(join(dstRoot, 'small.txt'))).toBe(false);
    expect(existsSync(join(dstRoot, 'big.bin'))).toBe(false);
  });
});
