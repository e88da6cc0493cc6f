import { constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { openRefHandle, type FileRef } from '../../fs/index.js';
import { MAX_REQUEST_RANGES, MAX_SUM_BLOCKS, type ByteRange } from '../../protocol/data-frames.js';

/**
 * Block checksums for resuming (issue 4, "trust but verify"): both sides cut the ranges a
 * partial file kept into the same blocks and hash them with sha256 (native, SHA-NI), so a
 * partial altered while the agent was down is caught block by block and only the damaged
 * blocks are sent again.
 */

const MIN_BLOCK = 4 * 1024 * 1024;
const READ_BYTES = 1024 * 1024;

/** The ranges worth checking (the largest, at most what one request may name) and a block size that keeps the sums within one frame. */
export function planBlocks(kept: ReadonlyArray<readonly [number, number]>): { ranges: ByteRange[]; block: number } {
  let ranges = kept.map(([s, e]) => ({ offset: s, length: e - s })).filter((r) => r.length > 0);
  if (ranges.length > MAX_REQUEST_RANGES) {
    ranges = [...ranges].sort((a, b) => b.length - a.length).slice(0, MAX_REQUEST_RANGES).sort((a, b) => a.offset - b.offset);
  }
  const total = ranges.reduce((n, r) => n + r.length, 0);
  // Each range may add one short block at its end.
  const perBlock = Math.ceil(total / Math.max(1, MAX_SUM_BLOCKS - ranges.length));
  const block = Math.max(MIN_BLOCK, Math.ceil(perBlock / 4096) * 4096);
  return { ranges, block };
}

/** The blocks of `ranges`, in order. */
export function blocksOf(ranges: readonly ByteRange[], block: number): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    for (let at = r.offset; at < r.offset + r.length; at += block) out.push({ offset: at, length: Math.min(block, r.offset + r.length - at) });
  }
  return out;
}

/** sha256 of each block of the file at `path`; a block the file does not fully hold gets '' (never equal to a real sum). */
export async function hashBlocks(path: FileRef, blocks: readonly ByteRange[], signal?: AbortSignal): Promise<string[]> {
  // Never through a link: a partial's name may have been replaced while the agent was down.
  const fh = await openRefHandle(path, constants.O_RDONLY);
  try {
    const buf = Buffer.allocUnsafe(READ_BYTES);
    const sums: string[] = [];
    for (const b of blocks) {
      const h = createHash('sha256');
      let at = b.offset;
      const end = b.offset + b.length;
      let short = false;
      while (at < end) {
        signal?.throwIfAborted();
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
        if (bytesRead === 0) {
          short = true;
          break;
        }
        h.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
      sums.push(short ? '' : h.digest('hex'));
    }
    return sums;
  } finally {
    await fh.close();
  }
}
