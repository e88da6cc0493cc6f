import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, containmentDir, describeOutcome, giveTo, settle, startAgentAs, startFastControl, type AgentUser,
} from '../helpers/containment.js';
import { submitTransfer } from '../helpers/tasks.js';
import type { AgentHandle } from '../helpers/cluster.js';

/**
 * Every source session of an agent reads into buffers drawn from one budget of the agent's
 * (96 MiB). A session that failed used to keep its share: the batch it had read when one of
 * its files could not be, units left in its send queue. After a handful of failed attempts
 * the agent's next sessions waited for buffers forever: a transfer that should succeed hung.
 *
 * Here the source holds a file its agent may not read (mode 000, the agent not root), so every
 * task sending it fails; then a task without it must still succeed, and in bounded time.
 */

/** Each failure kept at least one 4 MiB buffer: thirty of them exceed the budget. */
const FAILED_TASKS = 30;

/** The agents run as nobody when the tests run as root (root reads mode 000 files). */
const user: AgentUser = agentUsers().find((u) => u.uid !== null) ?? agentUsers()[0]!;

describe(`a source agent after many failed sessions (agent as ${user.label})`, () => {
  const dir = containmentDir('ferry-source-failures-');
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let control: ControlHandle;
  let client: ApiClient;
  let src: AgentHandle;
  let dst: AgentHandle;
  const good: Record<string, Buffer> = {};

  beforeAll(async () => {
    mkdirSync(join(srcRoot, 'bad'), { recursive: true });
    mkdirSync(join(srcRoot, 'good'), { recursive: true });
    mkdirSync(dstRoot);
    // Small files, so the unreadable one is read in a batch with others.
    for (let k = 0; k < 40; k++) writeFileSync(join(srcRoot, 'bad', `f${k}.dat`), randomBytes(1000 + k));
    writeFileSync(join(srcRoot, 'bad', 'f20-locked.dat'), randomBytes(3000));
    for (let k = 0; k < 20; k++) good[`g${k}.dat`] = randomBytes(2000 + k);
    good['big.dat'] = randomBytes(12 * 1024 * 1024);
    for (const [name, bytes] of Object.entries(good)) writeFileSync(join(srcRoot, 'good', name), bytes);
    giveTo(user, srcRoot, dstRoot);
    chmodSync(join(srcRoot, 'bad', 'f20-locked.dat'), 0o000);
    control = await startFastControl(dir.path);
    ({ client } = await control.user('failures@example.org'));
    src = await startAgentAs(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], user, 'failing source');
    dst = await startAgentAs(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], user, 'destination');
  }, 60_000);

  afterAll(async () => {
    await src?.stop();
    await dst?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it(`still sends after ${FAILED_TASKS} sessions failed on an unreadable file`, async () => {
    for (let k = 0; k < FAILED_TASKS; k++) {
      const taskId = await submitTransfer(client, {
        source_endpoint: src.endpointId, destination_endpoint: dst.endpointId,
        DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/bad/', destination_path: `/~/bad-${k}/`, recursive: true }],
      });
      const o = await settle(client, taskId, 30_000);
      expect(o.timedOut, `failing task ${k} hung: ${describeOutcome(o)}`).toBe(false);
      expect(o.task.status, describeOutcome(o)).toBe('FAILED');
      expect(o.task.fatal_error?.code, describeOutcome(o)).toBe('PERMISSION_DENIED');
    }
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/good/', destination_path: '/~/good/', recursive: true }],
    });
    const o = await settle(client, taskId, 30_000);
    expect(o.timedOut, `the task after the failures hung: ${describeOutcome(o)}`).toBe(false);
    expect(o.task.status, describeOutcome(o)).toBe('SUCCEEDED');
    for (const [name, bytes] of Object.entries(good)) expect(readFileSync(join(dstRoot, 'good', name)).equals(bytes), name).toBe(true);
  }, 150_000);
});
