import { unlink } from 'node:fs/promises';
import type { RestartMarkers } from '../../transfer/markers/store.js';

/** Remove the partial files recorded for a task, then its records; returns how many files went. */
export async function removeTaskPartials(markers: RestartMarkers, taskId: string): Promise<number> {
  let removed = 0;
  for (const rec of markers.ofTask(taskId)) {
    if (await unlinkQuietly(rec.partialPath)) removed += 1;
  }
  markers.forgetTask(taskId);
  return removed;
}

/**
 * At agent start: partials whose task has not come back for `retentionDays` (control was
 * never able to tell this agent it ended) are removed with their records.
 */
export async function removeStalePartials(markers: RestartMarkers & { pruneDone(beforeMs: number): void }, retentionDays: number, now = Date.now()): Promise<number> {
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
