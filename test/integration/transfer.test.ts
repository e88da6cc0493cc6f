import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, statSync, chmodSync, utimesSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { getTwinFastHash } from '../../src/transfer/checksum/fast-hash.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { runFerry } from '../helpers/process.js';
import { events, partialFiles, submitTransfer, treeDigest, waitForTask, type TaskDoc } from '../helpers/tasks.js';

describe('third-party transfers between two agents', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let control: ControlHandle;
  let client: ApiClient;
  let cliEnv: Record<string, string>;
  let src: AgentHandle;
  let dst: AgentHandle;

  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    const tree = join(srcRoot, 'tree');
    mkdirSync(join(tree, 'sub dir', 'deeper'), { recursive: true });
    mkdirSync(join(tree, 'empty'), { recursive: true });
    mkdirSync(join(tree, 'ünï ✓'), { recursive: true });
    writeFileSync(join(tree, 'zero'), '');
    writeFileSync(join(tree, '-leading-dash'), 'dash');
    writeFileSync(join(tree, 'sub dir', 'deeper', 'notes.txt'), 'deep notes');
    writeFileSync(join(tree, 'ünï ✓', 'ファイル.bin'), randomBytes(1000));
    for (let i = 0; i < 200; i++) writeFileSync(join(tree, 'sub dir', `small-${i}.dat`), randomBytes(i * 37));
    // Larger than any sensible chunk size, and not a multiple of it.
    writeFileSync(join(tree, 'big.bin'), randomBytes(9 * 1024 * 1024 + 12345));
    chmodSync(join(tree, '-leading-dash'), 0o640);
    utimesSync(join(tree, 'sub dir', 'deeper', 'notes.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    writeFileSync(join(srcRoot, 'single.bin'), randomBytes(3 * 1024 * 1024 + 7));

    control = await startControl(join(dir.path, 'control'));
    const user = await control.user('tina@example.org');
    client = user.client;
    cliEnv = { FERRY_URL: control.url, FERRY_TOKEN: user.token, FERRY_CA: control.caFile, FERRY_HOME: join(dir.path, 'cli-home') };
    src = await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'source endpoint');
    dst = await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'destination endpoint');
  });
  afterAll(async () => {
    await src?.stop();
    await dst?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it('copies a single file and reports it in the Globus task documents', async () => {
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, label: 'one file',
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/single.bin', destination_path: '/~/copy/single.bin' }],
    });
    const task = await waitForTask(client, taskId);
    expect(task).toMatchObject({ status: 'SUCCEEDED', files_transferred: 1, bytes_transferred: 3 * 1024 * 1024 + 7, label: 'one file', type: 'TRANSFER' });
    expect(readFileSync(join(dstRoot, 'copy', 'single.bin')).equals(readFileSync(join(srcRoot, 'single.bin')))).toBe(true);
    const codes = (await events(client, taskId)).map((e) => e.code);
    expect(codes).toEqual(expect.arrayContaining(['STARTED', 'SUCCEEDED']));
    const ok = await client.get<{ DATA: Array<{ source_path: string; destination_path: string; checksum: string }> }>(`/v0.10/task/${taskId}/successful_transfers`);
    expect(ok.DATA).toHaveLength(1);
    expect(ok.DATA[0]).toMatchObject({ source_path: '/~/single.bin', destination_path: '/~/copy/single.bin' });
    // No checksum_algorithm asked for: XXH3-128 (computed here with the hash-wasm twin).
    const h = await getTwinFastHash().xxh128();
    h.update(readFileSync(join(srcRoot, 'single.bin')));
    expect(ok.DATA[0]).toMatchObject({ checksum: h.digest().toString('hex'), checksum_algorithm: 'xxh128' });
    expect((await client.get<{ checksum_algorithm: string }>(`/v0.10/task/${taskId}`)).checksum_algorithm).toBe('xxh128');
  });

  it('copies a nested tree byte for byte: empty dirs, odd names, zero-byte and large files, modes and mtimes', async () => {
    const polls: TaskDoc[] = [];
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, preserve_timestamp: true, verify_checksum: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: '/~/tree-copy/', recursive: true }],
    });
    const task = await waitForTask(client, taskId, (t) => polls.push(t));
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    expect(task.files_transferred).toBe(205);
    expect(await treeDigest(join(dstRoot, 'tree-copy'))).toEqual(await treeDigest(join(srcRoot, 'tree')));
    expect(statSync(join(dstRoot, 'tree-copy', 'sub dir', 'deeper', 'notes.txt')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    expect(partialFiles(dstRoot)).toEqual([]);
  });

  it('skips what the destination already has, per sync level', async () => {
    const body = (sync_level: number) => ({
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, sync_level,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: '/~/tree-copy/', recursive: true }],
    });
    const same = await waitForTask(client, await submitTransfer(client, body(3)));
    expect(same).toMatchObject({ status: 'SUCCEEDED', files_transferred: 0, files_skipped: 205 });
    writeFileSync(join(dstRoot, 'tree-copy', 'sub dir', 'small-5.dat'), 'changed, same name, other size');
    const bySize = await waitForTask(client, await submitTransfer(client, body(1)));
    expect(bySize).toMatchObject({ status: 'SUCCEEDED', files_transferred: 1, files_skipped: 204 });
    expect(await treeDigest(join(dstRoot, 'tree-copy'))).toEqual(await treeDigest(join(srcRoot, 'tree')));
  });

  it('copies between two directories of the same endpoint', async () => {
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: src.endpointId,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/sub dir/deeper', destination_path: '/~/deeper-copy', recursive: true }],
    });
    expect((await waitForTask(client, taskId)).status).toBe('SUCCEEDED');
    expect(readFileSync(join(srcRoot, 'deeper-copy', 'notes.txt'), 'utf8')).toBe('deep notes');
  });

  it('fails a task whose source is missing with FILE_NOT_FOUND', async () => {
    const taskId = await submitTransfer(client, {
      source_endpoint: src.endpointId, destination_endpoint: dst.endpointId,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/no-such-file', destination_path: '/~/x' }],
    });
    const task = await waitForTask(client, taskId);
    expect(task.status).toBe('FAILED');
    expect(task.fatal_error?.code).toBe('FILE_NOT_FOUND');
    expect(existsSync(join(dstRoot, 'x'))).toBe(false);
  });

  it('drives transfers, tasks and deletes from the ferry CLI', async () => {
    const t = await runFerry(['transfer', `${src.endpointId}:/~/tree/sub dir/deeper`, `${dst.endpointId}:/~/cli-copy`, '--recursive', '--sync-level', 'checksum', '--label', 'from the cli', '--wait'], cliEnv);
    expect(t.code, t.stderr).toBe(0);
    const taskId = t.stdout.trim().split('\n')[0]!;
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readFileSync(join(dstRoot, 'cli-copy', 'notes.txt'), 'utf8')).toBe('deep notes');
    const show = await runFerry(['task', 'show', taskId, '--format', 'json'], cliEnv);
    expect(JSON.parse(show.stdout)).toMatchObject({ status: 'SUCCEEDED', label: 'from the cli', sync_level: 3 });
    const list = await runFerry(['task', 'list'], cliEnv);
    expect(list.stdout).toContain(taskId);
    const ev = await runFerry(['task', 'events', taskId], cliEnv);
    expect(ev.stdout).toContain('SUCCEEDED');
    const rm = await runFerry(['rm', `${dst.endpointId}:/~/cli-copy`, '--recursive', '--wait'], cliEnv);
    expect(rm.code, rm.stderr).toBe(0);
    expect(existsSync(join(dstRoot, 'cli-copy'))).toBe(false);
    const failed = await runFerry(['transfer', `${src.endpointId}:/~/missing-file`, `${dst.endpointId}:/~/m`, '--wait'], cliEnv);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('FILE_NOT_FOUND');
  });

  it('runs delete tasks', async () => {
    const { value } = await client.get<{ value: string }>('/v0.10/submission_id');
    const res = await client.post<{ task_id: string }>('/v0.10/delete', {
      body: { DATA_TYPE: 'delete', submission_id: value, endpoint: dst.endpointId, recursive: true, DATA: [{ DATA_TYPE: 'delete_item', path: '/~/copy' }] },
    });
    const task = await waitForTask(client, res.task_id);
    expect(task).toMatchObject({ status: 'SUCCEEDED', type: 'DELETE' });
    expect(existsSync(join(dstRoot, 'copy'))).toBe(false);
  });

  it('cancels a transfer within seconds and leaves no partial or final file', async () => {
    writeFileSync(join(srcRoot, 'huge.bin'), randomBytes(8 * 1024 * 1024));
    const items = Array.from({ length: 40 }, (_, i) => ({ DATA_TYPE: 'transfer_item', source_path: '/~/huge.bin', destination_path: `/~/cancel/huge-${i}.bin` }));
    const taskId = await submitTransfer(client, { source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, DATA: items });
    // Cancel as soon as data is moving.
    await waitForTaskProgress(client, taskId);
    const res = await client.post<{ code: string }>(`/v0.10/task/${taskId}/cancel`);
    expect(['Canceled', 'TaskComplete']).toContain(res.code);
    const task = await waitForTask(client, taskId);
    if (res.code === 'Canceled') {
      expect(task.status).toBe('FAILED');
      expect((await events(client, taskId)).map((e) => e.code)).toContain('CANCELED');
      // Once the agents acknowledge, nothing partial remains.
      await waitUntil(() => partialFiles(dstRoot).length === 0);
    }
    expect(partialFiles(dstRoot)).toEqual([]);
  });
});

async function waitForTaskProgress(client: ApiClient, taskId: string): Promise<void> {
  for (;;) {
    const t = await client.get<TaskDoc>(`/v0.10/task/${taskId}`);
    if (t.bytes_transferred > 0 || t.status !== 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 50));
}
