import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import type { AgentHandle, ControlHandle } from '../helpers/cluster.js';
import {
  agentUsers, containmentDir, describeOutcome, expectRefused, giveTo, guard, settle, startAgentAs, startFastControl, submitDelete, writeTree,
} from '../helpers/containment.js';
import { submitTransfer } from '../helpers/tasks.js';

/**
 * Containment: "a root, or a directory that holds one, is never removed" (issue "Agent
 * containment and durability", point 2) for roots the caller may WRITE, not only read-only
 * ones (containment-readonly.test.ts has those). The destination agent exports `dst` as `/~/`
 * and, nested in it, `dst/scratch` and `dst/holder/inner`, all read-write: a user may change
 * what is inside them, but a delete_destination_extra or a recursive delete must not remove
 * the root directories themselves (nor `holder`, which holds one), and must say so.
 */

describe('nested writable roots are never removed', () => {
  const shared = containmentDir();
  const user = agentUsers().at(-1)!;
  const srcRoot = join(shared.path, 'src');
  const dstRoot = join(shared.path, 'dst');
  const scratch = join(dstRoot, 'scratch');
  const inner = join(dstRoot, 'holder', 'inner');
  let control: ControlHandle;
  let client: ApiClient;
  let src: AgentHandle;
  let dst: AgentHandle;

  beforeAll(async () => {
    writeTree(srcRoot, { 'tree/plain.txt': 'plain\n' });
    mkdirSync(scratch, { recursive: true });
    mkdirSync(inner, { recursive: true });
    giveTo(user, srcRoot);
    control = await startFastControl(shared.path);
    ({ client } = await control.user('nora@example.org'));
    src = await startAgentAs(client, join(shared.path, 'agent-src'), [`${srcRoot}:rw`], user, 'nested src');
    dst = await startAgentAs(client, join(shared.path, 'agent-dst'), [`${dstRoot}:rw`, `${scratch}:rw`, `${inner}:rw`], user, 'nested dst');
  }, 120_000);
  afterAll(async () => {
    await src?.stop();
    await dst?.stop();
    await control?.stop();
    shared.cleanup();
  });

  function fill(): void {
    writeTree(scratch, { 'keep.txt': 'scratch: mine\n' });
    writeTree(inner, { 'keep.txt': 'inner: mine\n' });
    giveTo(user, dstRoot);
  }

  it('delete_destination_extra keeps a nested writable root and the directory holding one, and says so', async () => {
    for (const skip of [false, true]) {
      fill();
      const scratchGuard = guard(scratch, 'dst/scratch');
      const holderGuard = guard(join(dstRoot, 'holder'), 'dst/holder');
      const taskId = await submitTransfer(client, {
        source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, label: `nested dde ${skip}`,
        delete_destination_extra: true, skip_source_errors: skip,
        DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: '/~/', recursive: true }],
      });
      const o = await settle(client, taskId, 30_000);
      scratchGuard.check(`skip_source_errors=${skip}; ${describeOutcome(o)}`);
      holderGuard.check(`skip_source_errors=${skip}; ${describeOutcome(o)}`);
      expectRefused(o, { skipSourceErrors: skip, paths: ['scratch', 'holder'] });
    }
  }, 90_000);

  it('a recursive delete of a nested writable root, or of a directory holding one, is refused', async () => {
    fill();
    const scratchGuard = guard(scratch, 'dst/scratch');
    const holderGuard = guard(join(dstRoot, 'holder'), 'dst/holder');
    for (const path of ['/~/scratch', '/~/holder']) {
      const o = await settle(client, await submitDelete(client, dst.endpointId, [path], { recursive: true }), 20_000);
      scratchGuard.check(`DELETE ${path}; ${describeOutcome(o)}`);
      holderGuard.check(`DELETE ${path}; ${describeOutcome(o)}`);
      expect(o.task.status, `DELETE ${path}: ${describeOutcome(o)}`).toBe('FAILED');
      expectRefused(o, { skipSourceErrors: false, paths: [] });
    }
  }, 60_000);
});
