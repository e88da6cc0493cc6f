import { statfsSync } from 'node:fs';
import { release } from 'node:os';
import { rawFs } from '../../fs/load.js';

/**
 * When a group's syncfs(2) may stand in for the fsyncs of its files (durable-commit.ts).
 *
 * A syncfs that started after a file was written and ended without an error has written that
 * file back (data and inode) and flushed the device, as its own fsync would have: the kernel's
 * sync_filesystem writes back every dirty inode of the file system and waits, then the file
 * system commits its journal or flushes the device. Three conditions make its success mean the
 * same as the fsyncs', and each is checked, not assumed:
 * - the kernel reports write-back errors from syncfs (Linux 5.8 and later: an error of any file
 *   written since the descriptor was opened fails the call; before 5.8 syncfs always succeeded);
 * - the file system's syncfs is as strong as its fsync: ext2/3/4, XFS and Btrfs. Not NFS, FUSE,
 *   Lustre, GPFS or ZFS, whose servers or intent logs are not all reached by a syncfs;
 * - the file lives on that file system (same device as the synced directory: a mount inside the
 *   destination tree is not covered);
 * - the file was written after the directory descriptor the syncfs runs on was opened (the
 *   commit's own small files): an error from before that open may already have been reported
 *   to another program's syncfs, and a file written earlier (chunked) keeps its own fsync.
 * Anything else, and any syncfs that fails, is late or is shared with an older call, leaves
 * every file to its own fsync, which names the file that failed.
 */

/** statfs f_type of the file systems whose syncfs is trusted (linux/magic.h). */
const TRUSTED_TYPES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
]);

/** Whether this kernel release (uname -r) reports write-back errors from syncfs (5.8+). */
export function syncfsReportsErrors(kernelRelease: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 5 || (major === 5 && minor >= 8);
}

const kernelReports = syncfsReportsErrors(release());

/**
 * The device of the file system holding the directory open at `dirFd`, when a successful syncfs
 * of it stands in for the fsyncs of its files; null when it does not (then they are fsync'ed).
 * Only with the native addon: the twin's syncfs is a shared helper process whose answer may
 * belong to an older call.
 */
export function syncfsCoverage(dirFd: number): bigint | null {
  if (!kernelReports || rawFs.kind !== 'native') return null;
  try {
    if (!TRUSTED_TYPES.has(statfsSync(`/proc/self/fd/${dirFd}`).type)) return null;
    return rawFs.fstat(dirFd).dev;
  } catch {
    return null;
  }
}
