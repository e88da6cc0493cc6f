import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { startTransferPair, tempDir, type TransferPair } from '../helpers/cluster.js';
import { submitTransfer, waitForTask } from '../helpers/tasks.js';

/** A path under `dir` whose last name is raw bytes (Latin-1 'café': 0xE9 is not UTF-8). */
function rawName(dir: string, bytes: number[]): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes)]);
}

const CAFE_LATIN1 = [0x63, 0x61, 0x66, 0xe9];

describe('names that are not UTF-8', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let pair: TransferPair;
  let client: ApiClient;

  beforeAll(async () => {
    const tree = join(srcRoot, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    mkdirSync(dstRoot);
    writeFileSync(join(tree, 'ok.txt'), 'fine');
    writeFileSync(join(tree, 'sub', 'also-ok.txt'), 'fine too');
    writeFileSync(rawName(tree, [...CAFE_LATIN1, 0x2e, 0x74, 0x78, 0x74]), 'latin-1 name');
    mkdirSync(rawName(tree, CAFE_LATIN1));
    writeFileSync(Buffer.concat([rawName(tree, CAFE_LATIN1), Buffer.from('/inside.txt')]), 'under a latin-1 directory');
    pair = await startTransferPair(dir.path, 'nadia@example.org', srcRoot, dstRoot);
    client = pair.client;
  });
  afterAll(async () => {
    await pair?.stop();
    dir.cleanup();
  });

  const transfer = (body: Record<string, unknown>) => submitTransfer(client, { source_endpoint: pair.src.endpointId, destination_endpoint: pair.dst.endpointId, ...body });
  const item = (to: string) => [{ DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: `/~/${to}/`, recursive: true }];

  it('fails the task with INVALID_PATH_NAME naming the path, not FILE_NOT_FOUND', async () => {
    const task = await waitForTask(client, await transfer({ DATA: item('strict') }));
    expect(task.status).toBe('FAILED');
    const fatal = task.fatal_error as { code: string; description: string } | null;
    expect(fatal?.code).toBe('INVALID_PATH_NAME');
    const events = await client.get<{ DATA: Array<{ code: string; details: string }> }>(`/v0.10/task/${task.task_id}/event_list`);
    const named = events.DATA.find((e) => e.code === 'INVALID_PATH_NAME');
    expect(named?.details).toMatch(/not valid UTF-8.*\/~\/tree\/caf\uFFFD/);
  });

  it('with skip_source_errors, skips those names (and what is below them) and moves the rest', async () => {
    const task = await waitForTask(client, await transfer({ DATA: item('lenient'), skip_source_errors: true }));
    expect(task.status).toBe('SUCCEEDED');
    expect(readFileSync(join(dstRoot, 'lenient', 'ok.txt'), 'utf8')).toBe('fine');
    expect(readFileSync(join(dstRoot, 'lenient', 'sub', 'also-ok.txt'), 'utf8')).toBe('fine too');
    expect(readdirSync(join(dstRoot, 'lenient')).sort()).toEqual(['ok.txt', 'sub']);
    // files_skipped counts sync-level skips (Globus); source errors skipped are subtasks_skipped_errors.
    expect(task.subtasks_skipped_errors).toBe(2);
    const skipped = await client.get<{ DATA: Array<{ error_code: string; source_path: string; is_directory: boolean }> }>(`/v0.10/task/${task.task_id}/skipped_errors`);
    expect(skipped.DATA.map((s) => s.error_code)).toEqual(['INVALID_PATH_NAME', 'INVALID_PATH_NAME']);
    expect(skipped.DATA.map((s) => s.source_path).sort()).toEqual(['/~/tree/caf\uFFFD', '/~/tree/caf\uFFFD.txt']);
  });
});
