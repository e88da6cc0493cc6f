import { basename, dirname } from 'node:path';
import type { Dir } from '../../fs/index.js';
import { isPartialName, partialPrefix } from '../../transfer/session/paths.js';
import type { RestartMarkers } from '../../transfer/markers/store.js';

/**
 * Opens a recorded host directory for cleanup, or null when it no longer lies in a writable
 * root (PathPolicy.openWritableHostDir): whatever a directory was swapped for, nothing outside
 * the roots is removed.
 */
export type CleanupDirOpener = (hostDir: string) => Dir | null;

/**
 * Remove the partial files of a task, then its records; returns how many files went. Besides
 * the recorded partials (large files), the directories the task wrote into are searched for
 * its partial-name prefix: a small file's partial lives only during its commit and has no
 * record, but an agent killed at that moment leaves it behind. Every unlink acts relative to a
 * directory checked to lie in a writable root, and only on partial names.
 */
export async function removeTaskPartials(markers: RestartMarkers, taskId: string, openDir: CleanupDirOpener): Promise<number> {
  let removed = 0;
  const byDir = new Map<string, Set<string>>();
  for (const rec of markers.ofTask(taskId)) {
    const names = byDir.get(dirname(rec.partialPath)) ?? new Set<string>();
    names.add(basename(rec.partialPath));
    byDir.set(dirname(rec.partialPath), names);
  }
  for (const dir of markers.taskDirectories(taskId)) if (!byDir.has(dir)) byDir.set(dir, new Set());
  const prefix = partialPrefix(taskId);
  for (const [hostDir, recorded] of byDir) {
    removed += inDir(openDir, hostDir, (dir) => {
      let n = 0;
      const names = new Set(recorded);
      for (const e of dir.list()) if (e.name.startsWith(prefix)) names.add(e.name);
      for (const name of names) if (isPartialName(name) && unlinkQuietly(dir, name)) n += 1;
      return n;
    });
  }
  markers.forgetTask(taskId);
  return removed;
}

/**
 * At agent start: partials whose task has not come back for `retentionDays` (control was
 * never able to tell this agent it ended) are removed with their records.
 */
export async function removeStalePartials(markers: RestartMarkers, retentionDays: number, openDir: CleanupDirOpener, now = Date.now()): Promise<number> {
  const before = now - retentionDays * 86_400_000;
  let removed = 0;
  for (const rec of markers.staleSince(before)) {
    const name = basename(rec.partialPath);
    if (isPartialName(name)) removed += inDir(openDir, dirname(rec.partialPath), (dir) => (unlinkQuietly(dir, name) ? 1 : 0));
    markers.forget(rec.partialPath);
  }
  markers.pruneDone(before);
  return removed;
}

function inDir(openDir: CleanupDirOpener, hostDir: string, fn: (dir: Dir) => number): number {
  let dir: Dir | null;
  try {
    dir = openDir(hostDir);
  } catch {
    // Gone: nothing to remove there.
    return 0;
  }
  if (!dir) return 0;
  try {
    return fn(dir);
  } catch {
    // Unreadable now: nothing of ours can be removed there.
    return 0;
  } finally {
    dir.close();
  }
}

function unlinkQuietly(dir: Dir, name: string): boolean {
  try {
    dir.unlink(name);
    return true;
  } catch {
    // Already gone (committed, or removed by hand).
    return false;
  }
}
