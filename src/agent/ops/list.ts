import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { FerryError } from '../../common/errors.js';
import type { Dir } from '../../fs/index.js';
import type { FileDoc } from '../../protocol/file-doc.js';
import type { LsResult } from '../../protocol/link.js';
import { errnoCode, toFerryError } from '../policy/index.js';
import { fileDocFor, type DocContext } from './file-doc.js';

/** ls: one directory (already open, reached without following links), sorted by name. */

export interface ListOptions {
  showHidden: boolean;
  maxEntries: number;
  /** Entries described between two turns of the event loop (the calls are synchronous). */
  batch: number;
  /**
   * Reserve the listing's entry count against its caller's budget (LsEntryBudget) before the
   * documents are built; returns the release. Throws (429) when the caller holds too many.
   */
  reserve?: (entries: number) => () => void;
}

export async function listDirectory(dir: Dir, apiPath: string, options: ListOptions, ctx: DocContext): Promise<LsResult> {
  const shown = apiPath.endsWith('/') ? apiPath : `${apiPath}/`;
  let names: string[];
  try {
    names = dir.list().map((e) => e.name).filter((n) => options.showHidden || !n.startsWith('.'));
  } catch (err) {
    throw toFerryError(err, apiPath);
  }
  if (names.length > options.maxEntries) {
    throw new FerryError('ExternalError.DirListingFailed.SizeLimit', `More than ${options.maxEntries} entries: ${apiPath}`);
  }
  const release = options.reserve?.(names.length);
  try {
    names.sort();
    const docs: FileDoc[] = [];
    for (let k = 0; k < names.length; k++) {
      if (k > 0 && k % options.batch === 0) await yieldToLoop();
      const name = names[k]!;
      try {
        docs.push(await fileDocFor(dir, name, name, ctx));
      } catch (err) {
        // Removed between readdir and lstat: it is simply no longer there.
        if (errnoCode(err) === 'ENOENT') continue;
        throw toFerryError(err, `${shown}${name}`);
      }
    }
    return { path: shown, entries: docs };
  } finally {
    release?.();
  }
}
