import type { ChecksumAlgorithm } from '../../protocol/session.js';
import type { StreamingHash } from '../checksum/hash.js';
import type { IoPool } from '../workers/io-pool.js';
import { VerifyTracker } from '../chunks/verify-tracker.js';
import { fsError } from '../errors.js';
import type { SessionContext } from './context.js';
import type { PartialFile } from '../chunks/partial-file.js';

/**
 * The session's side of verify_checksum spread over the transfer (chunks/verify-tracker.ts):
 * which destination file has a tracker, made under the session's options, and finishing them
 * at commit. Kept here so the chunk layer knows nothing of sessions.
 */

/** What this needs of a destination file (dest-files.ts TrackedFile): declared here so the two do not import each other. */
export interface TrackedFile {
  readonly size: number;
  readonly partial: Pick<PartialFile, 'withRef'>;
  readonly destApi: string;
  readonly sourceChecksum: string | null;
}

const trackers = new WeakMap<TrackedFile, VerifyTracker>();
/** A tracker forgotten with its file (failed session, abandoned file) frees its worker state. */
const orphans = new FinalizationRegistry<StreamingHash>((hash) => hash.dispose());

export interface VerifyTrackerDeps {
  verify: boolean;
  algorithm: ChecksumAlgorithm;
  pool: IoPool;
  /** Files at least this big are verified as they are written (smaller ones at commit). */
  minBytes: number;
  /** Hash the written prefix each time it grew by this much. */
  stepBytes: number;
  /** Read back with O_DIRECT (files written with it). */
  direct?: boolean;
}

/** The file's tracker, made on its first write when the session verifies and the file is big enough; null otherwise. */
export function verifyTrackerFor(file: TrackedFile, deps: VerifyTrackerDeps): VerifyTracker | null {
  if (!deps.verify || file.size < deps.minBytes) return null;
  let t = trackers.get(file);
  if (!t) {
    const hash = deps.pool.createHash(deps.algorithm);
    if (!hash.updateFromFile) return null;
    t = new VerifyTracker((fn) => file.partial.withRef(fn), file.size, hash as StreamingHash & Required<Pick<StreamingHash, 'updateFromFile'>>, deps.stepBytes, deps.direct === true);
    trackers.set(file, t);
    orphans.register(t, hash, t);
  }
  return t;
}

/** The file's tracker under its session's options (verify_checksum, algorithm, sizes). */
export function sessionVerifyTracker(ctx: SessionContext, file: TrackedFile): VerifyTracker | null {
  const { spec, tuning, checksummer } = ctx;
  return verifyTrackerFor(file, { verify: spec.options.verifyChecksum, algorithm: checksummer.algorithm, pool: checksummer.pool, minBytes: tuning.offThreadHashBytes, stepBytes: tuning.verifyStepBytes, direct: tuning.directIo });
}

/**
 * At commit (commit.ts): finish the trackers of `group`'s files. Files whose digest differs
 * from the source's go to `mismatch` (they start over); the others are returned in
 * `verified` and need no re-read; files without a tracker are in neither and are verified
 * by the commit as before. Each tracker is used up: a file that starts over gets a new one.
 */
export async function finishVerifies<F extends TrackedFile>(group: readonly F[], mismatch: (file: F, computed: string) => void): Promise<{ rest: F[]; verified: Set<F> }> {
  const verified = new Set<F>();
  const rest: F[] = [];
  await Promise.all(group.map(async (file) => {
    const t = trackers.get(file);
    if (!t) {
      rest.push(file);
      return;
    }
    trackers.delete(file);
    orphans.unregister(t);
    let computed: string;
    try {
      computed = await t.finish();
    } catch (err) {
      t.dispose();
      throw fsError(err, 'destination', file.destApi);
    }
    if (computed === file.sourceChecksum) {
      verified.add(file);
      rest.push(file);
    } else {
      mismatch(file, computed);
    }
  }));
  // Keep the group's order (the commit reports files in it).
  rest.sort((a, b) => group.indexOf(a) - group.indexOf(b));
  return { rest, verified };
}
