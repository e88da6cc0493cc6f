import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { errnoOf, fsErrno, type Dir } from './dir.js';
import type { FileIdentity } from './raw.js';

/** Entries removed between two turns of the event loop (the calls are synchronous). */
const ENTRIES_PER_TURN = 256;

export interface RemoveTreeOptions {
  /** Called with every directory before it is emptied; throw to stop (a root inside, say). */
  refuse?: (dir: Dir) => void;
  signal?: AbortSignal;
}

/** What opening a sub-directory gives when it was replaced after its lstat. */
const SWAPPED = new Set(['ELOOP', 'ENOTDIR', 'ESTALE', 'ENOENT']);
/** Replacements tolerated in one delete before it fails (someone keeps swapping). */
const MAX_SWAPS = 1000;

interface Frame {
  parent: Dir;
  name: string;
  dir: Dir;
  entries: string[];
  relists: number;
}

/**
 * Levels removed at once: each holds a descriptor, so a hostile tree thousands of levels deep
 * must not exhaust the agent's descriptors (a deeper tree is refused, with what was above it
 * left in place).
 */
const MAX_DEPTH = 512;

/** Times a directory is listed again when it was not empty after its listed entries went. */
const MAX_RELISTS = 3;

/**
 * Remove the directory `name` of `top` (lstat'ed as `st`) and everything below it, post-order,
 * through held descriptors: each sub-directory is opened with O_NOFOLLOW|O_DIRECTORY relative
 * to its parent and checked against the lstat that found it, and every unlink and rmdir acts
 * relative to a held descriptor. A local user who swaps a directory for a symlink while this
 * runs only gets the symlink removed; nothing outside the tree is reached. Depth-first with an
 * explicit stack, so deep trees cannot overflow the call stack (each level holds one
 * descriptor).
 */
export async function removeTree(top: Dir, name: string, st: FileIdentity, options: RemoveTreeOptions = {}): Promise<{ files: number; directories: number }> {
  const result = { files: 0, directories: 0 };
  const stack: Frame[] = [];
  let work = 0;
  let swaps = 0;
  const enter = (parent: Dir, childName: string, expected: FileIdentity): void => {
    if (stack.length >= MAX_DEPTH) throw fsErrno('ELOOP', 'openat', `the tree is deeper than ${MAX_DEPTH} levels`);
    const dir = parent.openDirChecked(childName, expected);
    let entries: string[];
    try {
      options.refuse?.(dir);
      entries = dir.list().map((e) => e.name);
    } catch (err) {
      dir.close();
      throw err;
    }
    stack.push({ parent, name: childName, dir, entries, relists: 0 });
  };
  try {
    enter(top, name, st);
    while (stack.length > 0) {
      if (++work % ENTRIES_PER_TURN === 0) {
        await yieldToLoop();
        options.signal?.throwIfAborted();
      }
      const frame = stack[stack.length - 1]!;
      let entry = frame.entries.pop();
      if (entry === undefined && frame.relists < MAX_RELISTS) {
        // Entries added while we emptied it (someone still writing): look once more.
        frame.relists += 1;
        frame.entries = frame.dir.list().map((e) => e.name);
        entry = frame.entries.pop();
      }
      if (entry === undefined) {
        stack.pop();
        frame.dir.close();
        removeEmptyDir(frame);
        result.directories++;
        continue;
      }
      const child = frame.dir.statOrNull(entry);
      if (!child) continue;
      if (child.kind === 'dir') {
        try {
          enter(frame.dir, entry, child);
        } catch (err) {
          // Swapped between the lstat and the open (for a link, a file, or another directory):
          // look at it again, a bounded number of times.
          if (!SWAPPED.has(errnoOf(err) ?? '') || (swaps += 1) > MAX_SWAPS) throw err;
          frame.entries.push(entry);
        }
        continue;
      }
      try {
        frame.dir.unlink(entry);
        result.files++;
      } catch (err) {
        // Gone meanwhile: fine. A directory now (swapped after the lstat): look again.
        if (errnoOf(err) === 'EISDIR') frame.entries.push(entry);
        else if (errnoOf(err) !== 'ENOENT') throw err;
      }
    }
  } finally {
    for (const frame of stack) frame.dir.close();
  }
  return result;
}

/** rmdir a directory we emptied, only if its name still leads to it. */
function removeEmptyDir(frame: Frame): void {
  const now = frame.parent.statOrNull(frame.name);
  if (!now) return;
  if (now.dev !== frame.dir.dev || now.ino !== frame.dir.ino) {
    throw fsErrno('ESTALE', 'rmdir', `${frame.name} was replaced during the delete`);
  }
  frame.parent.rmdir(frame.name);
}
