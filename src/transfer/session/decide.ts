import type { TransferOptions } from '../../protocol/session.js';

export type Decision = 'copy' | 'skip' | 'checksum';

/**
 * Whether a source file must be copied over what the destination holds (Globus sync_level,
 * globus-api.md §2.1): null always copies; 0 copies only a missing file; 1 when the sizes
 * differ; 2 when the source is newer (millisecond resolution, so a file copied with
 * preserve_timestamp is not newer than its copy); 3 when the checksums differ, which the
 * caller settles ('checksum') unless the sizes already differ.
 * `dst` is the destination's regular file, or null when there is none.
 */
export function decide(level: TransferOptions['syncLevel'], src: { size: number; mtimeMs: number }, dst: { size: number; mtimeMs: number } | null): Decision {
  if (dst === null || level === null) return 'copy';
  switch (level) {
    case 0:
      return 'skip';
    case 1:
      return src.size !== dst.size ? 'copy' : 'skip';
    case 2:
      return Math.floor(src.mtimeMs) > Math.floor(dst.mtimeMs) ? 'copy' : 'skip';
    case 3:
      return src.size !== dst.size ? 'copy' : 'checksum';
  }
}
