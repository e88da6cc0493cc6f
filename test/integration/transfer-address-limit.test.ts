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

/**
 * The same limit on agents without the addon (FERRY_NO_NATIVE=1, as on a host without a
 * compiler), where xxh128 (the default) is a hash-wasm WebAssembly instance that needs address
 * space too. Under this limit the session may run out of it; the agent must fail the session
 * with a clear error and stay up. (Before, V8's RangeError counted as a programmer's mistake and
 * the source agent exited with its sessions.)
 */
describe('twin agents under an address-space limit, xxh128', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let pair: TransferPair;

  beforeAll(async () => {
    mkdirSync(join(srcRoot, 'many'), { recursive: true });
    mkdirSync(dstRoot);
    pair = await startTransferPair(dir.path, 'twinlim@example.org', srcRoot, dstRoot, { addressSpaceKiB: LIMIT_KIB, env: { FERRY_NO_NATIVE: '1' } });
  });
  afterAll(async () => {
    await pair?.stop();
    dir.cleanup();
  });

  it('moves a tree of small files, or fails its sessions with ERR_HASH_NO_MEMORY, and both agents stay up', async () => {
    for (let k = 0; k < 300; k++) writeFileSync(join(srcRoot, 'many', `f${k}`), randomBytes(1000 + k * 997));
    const id = await submitTransfer(pair.client, {
      source_endpoint: pair.src.endpointId, destination_endpoint: pair.dst.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/many/', destination_path: '/~/many/', recursive: true }],
    });
    // Until it succeeds, or has failed twice (control retries): an agent that died with its
    // session shows as GC_NOT_CONNECTED.
    let failures: string[] = [];
    let lost = false;
    for (;;) {
      const task = await pair.client.get(`/v0.10/task/${id}`) as { status: string; checksum_algorithm: string };
      expect(task.checksum_algorithm).toBe('xxh128');
      const events = await pair.client.get(`/v0.10/task/${id}/event_list`) as { DATA: Array<{ code: string; is_error: boolean; details: string }> };
      failures = events.DATA.filter((e) => e.is_error && e.code === 'ENDPOINT_ERROR').map((e) => e.details);
      lost = events.DATA.some((e) => e.code === 'GC_NOT_CONNECTED');
      if (task.status === 'SUCCEEDED' || failures.length >= 2 || lost) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(lost).toBe(false);
    for (const f of failures) expect(f).toMatch(/ERR_HASH_NO_MEMORY/);
    // Both agents still answer: a listing goes through each one's link.
    for (const a of [pair.src, pair.dst]) {
      const ls = await pair.client.get(`/v0.10/operation/endpoint/${a.endpointId}/ls?path=/~/`) as { DATA: unknown[] };
      expect(Array.isArray(ls.DATA)).toBe(true);
      expect(a.proc.proc.exitCode).toBeNull();
      expect(a.proc.proc.exitCode).toBeNull();
      expect(a.proc.stderr()).not.toMatch(/^RangeError/m);
    }
  });
});
