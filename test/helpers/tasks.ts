import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readlinkSync, lstatSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ApiClient } from '../../src/cli/api-client.js';

export interface TaskDoc {
  DATA_TYPE: 'task';
  task_id: string;
  status: 'ACTIVE' | 'INACTIVE' | 'SUCCEEDED' | 'FAILED';
  nice_status: string | null;
  files: number;
  directories: number;
  files_transferred: number;
  files_skipped: number;
  bytes_transferred: number;
  faults: number;
  fatal_error: { code: string; description: string } | null;
  [k: string]: unknown;
}

export async function submitTransfer(client: ApiClient, body: Record<string, unknown>): Promise<string> {
  const { value } = await client.get<{ value: string }>('/v0.10/submission_id');
  const res = await client.post<{ code: string; task_id: string }>('/v0.10/transfer', { body: { DATA_TYPE: 'transfer', submission_id: value, ...body } });
  return res.task_id;
}

export async function getTask(client: ApiClient, taskId: string): Promise<TaskDoc> {
  return client.get<TaskDoc>(`/v0.10/task/${taskId}`);
}

/** Poll until the task leaves ACTIVE (bounded by the test timeout); also returns every doc seen. */
export async function waitForTask(client: ApiClient, taskId: string, onPoll?: (t: TaskDoc) => void): Promise<TaskDoc> {
  for (;;) {
    const t = await getTask(client, taskId);
    onPoll?.(t);
    if (t.status === 'SUCCEEDED' || t.status === 'FAILED') return t;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function events(client: ApiClient, taskId: string): Promise<Array<{ code: string; is_error: boolean; details: string }>> {
  const list = await client.get<{ DATA: Array<{ code: string; is_error: boolean; details: string }> }>(`/v0.10/task/${taskId}/event_list`, { query: { limit: 1000 } });
  return list.DATA;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every entry under `dir` (relative path -> type, size, mode, content hash); skips names matching `ignore`. */
export async function treeDigest(dir: string, ignore: RegExp = /^$/): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (ignore.test(name)) continue;
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      if (st.isDirectory()) { out[rel] = 'dir'; await walk(p); }
      else if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(p)}`;
      else out[rel] = `file:${st.size}:${(st.mode & 0o777).toString(8)}:${await sha256(p)}`;
    }
  };
  await walk(dir);
  return out;
}

/**
 * The partials still under `dir` once a failed task's clean-up had its chance: they go when
 * control's task.cleanup reaches the agent, a moment after the task ended (waits up to 30 s: a
 * loaded machine can take several seconds for that round trip).
 */
export async function partialsLeft(dir: string): Promise<string[]> {
  for (let k = 0; k < 600 && partialFiles(dir).length > 0; k++) await new Promise((r) => setTimeout(r, 50));
  return partialFiles(dir);
}

/** Hidden partial files the engine writes next to targets. */
export function partialFiles(dir: string): string[] {
  const found: string[] = [];
  // The agent may be removing partials (and directories) while this looks: an entry that
  // vanished between the listing and the look is simply gone.
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.name.startsWith('.ferry-part')) found.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}
