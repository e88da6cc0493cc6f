import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
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

/** Control and two agents under `limitKiB`, on roots made fresh in a temporary directory. */
function pairUnderLimit(username: string, limitKiB: number, env: Record<string, string> = {}): { srcRoot: string; dstRoot: string; pair: () => TransferPair } {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let pair: TransferPair | undefined;
  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    pair = await startTransferPair(dir.path, username, srcRoot, dstRoot, { addressSpaceKiB: limitKiB, env });
  });
  afterAll(async () => {
    await pair?.stop();
    dir.cleanup();
  });
  return { srcRoot, dstRoot, pair: () => pair! };
}

describe('transfers under an address-space limit', () => {
  const { srcRoot, dstRoot, pair: started } = pairUnderLimit('lim@example.org', LIMIT_KIB);

  it('moves and verifies a file of many chunks intact', async () => {
    // 48 MiB: 12 chunks of 4 MiB, more receive buffers than the limit leaves room for.
    const data = randomBytes(48 * MiB + 123);
    writeFileSync(join(srcRoot, 'big.bin'), data);
    const pair = started();
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

/**
 * The same limit on agents without the addon (FERRY_NO_NATIVE=1, as on a host without a
 * compiler), where xxh128 (the default) is hash-wasm, a WebAssembly instance that needs address
 * space too: one per thread that hashes, shared by all the thread's digests, and no WebAssembly
 * aligned buffers under a limit. (Before, one instance per file: the sessions failed with
 * ERR_HASH_NO_MEMORY, and before that the source agent died of V8's RangeError.) Under 40 GB
 * three WebAssembly memories fit in a process; the agent hashes on its main thread and each I/O
 * worker, so the limit grows with the workers a bigger machine runs (tuning.ts).
 */
const hashingThreads = 1 + 2 * Math.max(1, Math.min(4, availableParallelism() - 1));
const TWIN_LIMIT_KIB = LIMIT_KIB + Math.max(0, hashingThreads - 3) * 11 * 1024 * 1024;

describe('twin agents under an address-space limit, xxh128', () => {
  const { srcRoot, dstRoot, pair: started } = pairUnderLimit('twinlim@example.org', TWIN_LIMIT_KIB, { FERRY_NO_NATIVE: '1' });

  it('moves and verifies a tree of small and middle-sized files, and both agents stay up', async () => {
    mkdirSync(join(srcRoot, 'many'));
    const files = new Map<string, Buffer>();
    for (let k = 0; k < 300; k++) files.set(`f${k}`, randomBytes(1000 + k * 997));
    files.set('big', randomBytes(24 * MiB + 5)); // hashed by a worker, in streams
    for (const [name, data] of files) writeFileSync(join(srcRoot, 'many', name), data);
    const pair = started();
    const id = await submitTransfer(pair.client, {
      source_endpoint: pair.src.endpointId, destination_endpoint: pair.dst.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/many/', destination_path: '/~/many/', recursive: true }],
    });
    // Until it ends or reports its first error (control would retry a failed session for long).
    let task: { status: string; checksum_algorithm: string };
    let errors: string[];
    for (;;) {
      task = await pair.client.get(`/v0.10/task/${id}`) as typeof task;
      const events = await pair.client.get(`/v0.10/task/${id}/event_list`) as { DATA: Array<{ code: string; is_error: boolean; details: string }> };
      errors = events.DATA.filter((e) => e.is_error).map((e) => `${e.code}: ${e.details}`);
      if (task.status !== 'ACTIVE' || errors.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(errors).toEqual([]);
    expect(task.status).toBe('SUCCEEDED');
    expect(task.checksum_algorithm).toBe('xxh128');
    for (const [name, data] of files) expect(readFileSync(join(dstRoot, 'many', name)).equals(data), name).toBe(true);
    for (const a of [pair.src, pair.dst]) {
      expect(a.proc.proc.exitCode).toBeNull();
      expect(a.proc.stderr()).not.toMatch(/^RangeError|ERR_HASH_NO_MEMORY/m);
    }
  });
});
