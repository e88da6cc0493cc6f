import { opendir, stat } from 'node:fs/promises';
import { FerryError } from '../../common/errors.js';
import type { FileDoc } from '../../protocol/file-doc.js';
import type { LsResult } from '../../protocol/link.js';
import { errnoCode, joinHost, toFerryError, type ResolvedPath } from '../policy/index.js';
import { fileDocFor, type DocContext } from './file-doc.js';

/** ls: one directory, sorted by name, built with bounded concurrency. */

export interface ListOptions {
  showHidden: boolean;
  maxEntries: number;
  /** stat calls in flight at once; enough to hide latency of network file systems. */
  concurrency: number;
}

export async function listDirectory(target: ResolvedPath, options: ListOptions, ctx: DocContext): Promise<LsResult> {
  const apiPath = target.apiPath.endsWith('/') ? target.apiPath : `${target.apiPath}/`;
  try {
    const st = await stat(target.hostPath);
    if (!st.isDirectory()) {
      throw new FerryError('ExternalError.DirListingFailed.NotDirectory', `Not a directory: ${target.apiPath}`);
    }
  } catch (err) {
    throw toFerryError(err, target.apiPath, { ENOTDIR: 'ExternalError.DirListingFailed.NotDirectory' });
  }

  const names: string[] = [];
  try {
    // Stream the directory so a huge one is refused after max+1 names, not after reading all.
    for await (const entry of await opendir(target.hostPath, { bufferSize: 256 })) {
      if (!options.showHidden && entry.name.startsWith('.')) continue;
      names.push(entry.name);
      if (names.length > options.maxEntries) {
        throw new FerryError('ExternalError.DirListingFailed.SizeLimit', `More than ${options.maxEntries} entries: ${target.apiPath}`);
      }
    }
  } catch (err) {
    throw toFerryError(err, target.apiPath, { ENOTDIR: 'ExternalError.DirListingFailed.NotDirectory' });
  }
  names.sort();

  const docs = await mapBounded(names, options.concurrency, async (name) => {
    try {
      return await fileDocFor(joinHost(target.hostPath, [name]), name, ctx);
    } catch (err) {
      // Removed between readdir and lstat: it is simply no longer there.
      if (errnoCode(err) === 'ENOENT') return null;
      throw toFerryError(err, `${apiPath}${name}`);
    }
  });
  return { path: apiPath, entries: docs.filter((d): d is FileDoc => d !== null) };
}

/** Promise.all over `items` with at most `limit` calls running; results keep input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  async function worker(): Promise<void> {
    // After one failure the result is lost anyway: stop starting new calls.
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
