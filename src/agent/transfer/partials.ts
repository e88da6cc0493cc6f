import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { partialName } from '../../transfer/session/paths.js';
import type { RestartMarkers } from '../../transfer/markers/store.js';

/**
 * Remove the partial files of a task, then its records; returns how many files went. Besides
 * the recorded partials (large files), the directories the task wrote into are searched for
 * its partial-name prefix: a small file's partial lives only during its commit and has no
 * record, but an agent killed at that moment leaves it behind.
 */
export async function removeTaskPartials(markers: RestartMarkers, taskId: string): Promise<number> {
  let removed = 0;
  for (const rec of markers.ofTask(taskId)) {
    if (await unlinkQuietly(rec.partialPath)) removed += 1;
  }
  const prefix = partialName(taskId, '');
  for (const dir of markers.taskDirectories(taskId)) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith(prefix) && (await unlinkQuietly(join(dir, name)))) removed += 1;
    }
  }
  markers.forgetTask(taskId);
  return removed;
}

/**
 * At agent start: partials whose task has not come back for `retentionDays` (control was
 * never able to tell this agent it ended) are removed with their records.
 */
export async function removeStalePartials(markers: RestartMarkers, retentionDays: number, now = Date.now()): Promise<number> {
  const before = now - retentionDays * 86_400_000;
  let removed = 0;
  for (const rec of markers.staleSince(before)) {
    if (await unlinkQuietly(rec.partialPath)) removed += 1;
    markers.forget(rec.partialPath);
  }
  markers.pruneDone(before);
  return removed;
}

async function unlinkQuietly(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch {
    // Already gone (committed, or removed by hand).
    return false;
  }
}
