import { basename, dirname } from 'node:path';
import type { Dir } from '../../fs/index.js';
import { isPartialName, partialPrefix } from '../../transfer/session/paths.js';
import type { PartialRecord, RestartMarkers } from '../../transfer/markers/store.js';

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
  const { removed } = sweepTaskPartials(markers, taskId, openDir);
  markers.forgetTask(taskId);
  return removed;
}

/**
 * A destination session of the task succeeded: every file is durable at its final path, so
 * any partial of the task still here is what an earlier attempt left (one killed in the middle
 * of a commit group leaves its small files' partials, unrecorded, under random names the next
 * attempt never uses). They go now, before the session reports done: the task can be SUCCEEDED
 * as soon as it does, and control's task.cleanup may come later or never (this agent killed or
 * away when the task ended). The finished-file records stay: should the task still retry (its
 * source failed after the end), they spare it every file. The caller makes sure no session of
 * the task runs here meanwhile (SessionManager runs a task's attempts one after the other).
 */
export async function removeLeftoverPartials(markers: RestartMarkers, taskId: string, openDir: CleanupDirOpener): Promise<number> {
  const { removed, records } = sweepTaskPartials(markers, taskId, openDir);
  for (const rec of records) markers.forget(rec.partialPath);
  return removed;
}

/** Unlink the task's partials, recorded or found by name in its directories; the records stay for the caller. */
function sweepTaskPartials(markers: RestartMarkers, taskId: string, openDir: CleanupDirOpener): { removed: number; records: PartialRecord[] } {
  let removed = 0;
  const records = markers.ofTask(taskId);
  const byDir = new Map<string, Set<string>>();
  for (const rec of records) {
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
  return { removed, records };
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
