import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
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
  let control: ControlHandle;
  let client: ApiClient;
  const agents: AgentHandle[] = [];

  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    control = await startControl(join(dir.path, 'control'));
    ({ client } = await control.user('lim@example.org'));
    agents.push(await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'source', {}, { addressSpaceKiB: LIMIT_KIB }));
    agents.push(await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'destination', {}, { addressSpaceKiB: LIMIT_KIB }));
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await control?.stop();
    dir.cleanup();
  });

  it('moves and verifies a file of many chunks intact', async () => {
    // 48 MiB: 12 chunks of 4 MiB, more receive buffers than the limit leaves room for.
    const data = randomBytes(48 * MiB + 123);
    writeFileSync(join(srcRoot, 'big.bin'), data);
    const id = await submitTransfer(client, {
      source_endpoint: agents[0]!.endpointId, destination_endpoint: agents[1]!.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: '/~/big.bin' }],
    });
    const task = await waitForTask(client, id);
    expect(task.status).toBe('SUCCEEDED');
    expect(readFileSync(join(dstRoot, 'big.bin')).equals(data)).toBe(true);
    for (const a of agents) expect(a.proc.stderr()).not.toMatch(/could not allocate memory/);
  });
});
