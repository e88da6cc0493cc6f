import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTransferPair, tempDir, type TransferPair } from '../helpers/cluster.js';
import { submitTransfer, waitForTask } from '../helpers/tasks.js';

/**
 * Agents under an address-space limit (`ulimit -v`, systemd's LimitAS=, common on HPC data
 * nodes). Every WebAssembly memory reserves 10 GiB of address space in V8: the destination's
 * page-aligned receive buffers (for direct I/O) and the I/O workers' xxh128 instance. Under this
 * limit only a few fit; the buffers must fall back to ordinary ones and a sha256 task must not
 * need xxh128 at all. (Before that, every session failed: a RangeError in the frame assembler, or
 * "WebAssembly.instantiate(): Out of memory" from a worker.)
 */
const LIMIT_KIB = 40_000_000;
const MiB = 1024 * 1024;

describe('transfers under an address-space limit', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let pair: TransferPair;

  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    pair = await startTransferPair(dir.path, 'lim@example.org', srcRoot, dstRoot, { addressSpaceKiB: LIMIT_KIB });
  });
  afterAll(async () => {
    await pair?.stop();
    dir.cleanup();
  });

  it('moves and verifies a file of many chunks intact', async () => {
    // 48 MiB: 12 chunks of 4 MiB, more receive buffers than the limit leaves room for.
    const data = randomBytes(48 * MiB + 123);
    writeFileSync(join(srcRoot, 'big.bin'), data);
    const id = await submitTransfer(pair.client, {
      source_endpoint: pair.src.endpointId, destination_endpoint: pair.dst.endpointId, verify_checksum: true, checksum_algorithm: 'sha256',
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: '/~/big.bin' }],
    });
    const task = await waitForTask(pair.client, id);
    expect(task.status).toBe('SUCCEEDED');
    expect(readFileSync(join(dstRoot, 'big.bin')).equals(data)).toBe(true);
    for (const a of [pair.src, pair.dst]) expect(a.proc.stderr()).not.toMatch(/could not allocate memory/);
  });
});
