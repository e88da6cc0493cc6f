import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { events, getTask, partialFiles, submitTransfer, treeDigest, waitForTask } from '../helpers/tasks.js';

/**
 * Faults during a transfer: an agent killed with SIGKILL mid-transfer and restarted, and a
 * control restart mid-task. Each ends SUCCEEDED with the destination equal to the source and
 * no partial file left. (fault-injection.test.ts repeats kills at random moments and measures
 * what restart markers save.)
 */
describe('transfers survive killed agents and a control restart', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let control: ControlHandle;
  let client: ApiClient;
  let token: string;
  let src: AgentHandle;
  let dst: AgentHandle;

  beforeAll(async () => {
    mkdirSync(join(srcRoot, 'data'), { recursive: true });
    mkdirSync(dstRoot);
    for (let i = 0; i < 20; i++) writeFileSync(join(srcRoot, 'data', `part-${i}.bin`), randomBytes(8 * 1024 * 1024 + i));
    for (let i = 0; i < 100; i++) writeFileSync(join(srcRoot, 'data', `small-${i}.txt`), `file ${i}\n`.repeat(i));
    const cfg = join(dir.path, 'control.json');
    writeFileSync(cfg, JSON.stringify({ version: 1, dataDir: join(dir.path, 'control'), tasks: { retryInitialMs: 100, retryMaxMs: 1000, tickMs: 100 } }));
    control = await startControl(join(dir.path, 'control'), ['--config', cfg, '--listen', '127.0.0.1:0']);
    const user = await control.user('fran@example.org');
    client = user.client;
    token = user.token;
    src = await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'fault source');
    dst = await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'fault destination');
  });
  afterAll(async () => {
    await src?.stop();
    await dst?.stop();
    await control?.stop();
    dir.cleanup();
  });

  const submit = (dest: string) => submitTransfer(client, {
    source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, parallelism: 2,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/data/', destination_path: `/~/${dest}/`, recursive: true }],
  });

  async function waitForBytes(taskId: string): Promise<void> {
    for (;;) {
      const t = await getTask(client, taskId);
      if (t.bytes_transferred > 0 || t.status !== 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Until the destination is writing (a partial file exists under `dest`): progress reaches
   * control only once a second, by which time a fast engine may have moved most of the tree,
   * and a kill after the end would test nothing.
   */
  async function waitForWriting(taskId: string, dest: string): Promise<void> {
    for (;;) {
      const inside = (() => { try { return partialFiles(dest).length > 0; } catch { return false; } })();
      if (inside) return;
      if ((await getTask(client, taskId)).status !== 'ACTIVE') throw new Error('the task ended before the destination was seen writing');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  for (const victim of ['destination', 'source'] as const) {
    it(`finishes after the ${victim} agent is SIGKILLed mid-transfer and restarted`, async () => {
      const taskId = await submit(`after-${victim}-kill`);
      await waitForWriting(taskId, join(dstRoot, `after-${victim}-kill`));
      const agent = victim === 'destination' ? dst : src;
      await agent.proc.stop('SIGKILL');
      await agent.start();
      const task = await waitForTask(client, taskId);
      expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
      expect(task.faults).toBeGreaterThan(0);
      expect(await treeDigest(join(dstRoot, `after-${victim}-kill`))).toEqual(await treeDigest(join(srcRoot, 'data')));
    });
  }

  it('finishes a task across a control restart', async () => {
    const taskId = await submit('after-control-restart');
    await waitForBytes(taskId);
    const port = new URL(control.url).port;
    await control.stop();
    control = await startControl(control.dataDir, ['--listen', `127.0.0.1:${port}`]);
    client = new ApiClient({ url: control.url, token, ca: control.caPem });
    const task = await waitForTask(client, taskId);
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    expect(await treeDigest(join(dstRoot, 'after-control-restart'))).toEqual(await treeDigest(join(srcRoot, 'data')));
    expect((await events(client, taskId)).map((e) => e.code)).toContain('SUCCEEDED');
  });
});
