import { basename, dirname } from 'node:path';
import { Dir, rawFs } from '../../../src/fs/index.js';
import type { CommitRequest, IoPool } from '../../../src/transfer/workers/io-pool.js';

/** A commit request named by host paths, as tests write them. */
export type PathCommitRequest = Omit<CommitRequest, 'dirFd'>;

/**
 * IoPool.commit takes names relative to directory descriptors the caller holds (the
 * destination's checked directories); tests name files by path: open each directory for the
 * call. A directory that does not exist gets a descriptor of nothing (-1 is EBADF), so its
 * files fail as the worker reports them.
 */
export async function commitByPath(pool: IoPool, requests: readonly PathCommitRequest[], durable: boolean): ReturnType<IoPool['commit']> {
  const dirs = new Map<string, Dir | null>();
  for (const r of requests) {
    const d = dirname(r.partial);
    if (!dirs.has(d)) {
      try {
        dirs.set(d, Dir.adopt(rawFs.openRoot(d)));
      } catch {
        dirs.set(d, null);
      }
    }
  }
  try {
    return await pool.commit(requests.map((r) => ({ ...r, dirFd: dirs.get(dirname(r.partial))?.fd ?? -1, partial: basename(r.partial), final: basename(r.final) })), durable);
  } finally {
    for (const d of dirs.values()) d?.close();
  }
}
