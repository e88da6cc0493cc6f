import { describeRef, lstatRef, type FileRef } from '../../fs/file-ref.js';
import type { RawStat } from '../../fs/raw.js';
import { fileFailure, type StatResult } from './messages.js';

/** Op 'lstat' on the I/O worker (io-worker.ts): a run of lstats in one round trip. */

/** The one place this file looks files up (a link is reported, never followed). */
function lstatPath(p: FileRef): RawStat | undefined {
  return lstatRef(p);
}

// A missing path is the common answer on a destination (every new file): throwIfNoEntry
// avoids building an exception (with its stack trace) per file.
export function lstatMany(paths: readonly FileRef[]): StatResult[] {
  return paths.map((p) => {
    try {
      const st = lstatPath(p);
      if (st === undefined) return { errno: 'ENOENT', message: 'no such file or directory, lstat ' + JSON.stringify(describeRef(p)) };
      return { kind: st.kind, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, dev: st.dev, ino: st.ino };
    } catch (err) {
      return fileFailure(err);
    }
  });
}
