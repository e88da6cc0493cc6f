import { opendir, rm } from 'node:fs/promises';
import type { FilterMatcher } from './filters.js';
import { isPartialName } from './paths.js';

/**
 * delete_destination_extra for one directory: remove the destination entries whose names the
 * source did not announce there (entries of another type were already replaced when their
 * source entry was placed). Partial files of running sessions are left alone, and so are
 * entries the task's filter rules exclude (as rsync protects excluded files from --delete): the
 * rules are matched against the destination entry's own name and type, a symlink or special
 * file counting as a file. `rm` does not follow symlinks: a link is removed, never what it
 * points to.
 */
export async function deleteExtras(hostDir: string, keep: ReadonlySet<string>, signal: AbortSignal, filters: FilterMatcher | null = null): Promise<number> {
  const extras: string[] = [];
  const dir = await opendir(hostDir);
  for await (const dirent of dir) {
    if (keep.has(dirent.name) || isPartialName(dirent.name)) continue;
    if (filters && filters.excludes(dirent.name, dirent.isDirectory() ? 'dir' : 'file')) continue;
    extras.push(dirent.name);
  }
  for (const name of extras) {
    signal.throwIfAborted();
    await rm(`${hostDir}/${name}`, { recursive: true, force: true });
  }
  return extras.length;
}
