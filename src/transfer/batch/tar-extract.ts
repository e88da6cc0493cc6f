import { isFerryError } from '../../common/errors.js';
import { peerProtocolError } from '../errors.js';
import { readEntries } from './ustar.js';

export interface ExpectedEntry {
  name: string;
  size: number;
}

/** Upper bound of the tar bytes for these entries (headers, long-name pax records, padding, end marker). */
export function tarBound(entries: readonly ExpectedEntry[]): number {
  let n = 1024 + 10 * 1024;
  for (const e of entries) n += 3 * 512 + Math.ceil((Buffer.byteLength(e.name) + 64) / 512) * 512 + Math.ceil(e.size / 512) * 512;
  return n;
}

/**
 * Extract a batch's tar bytes (the received slices, not joined), checking every entry against
 * the list the batch announced: same name, a regular file, same size, same order, nothing more
 * and nothing less. Names are only compared, never used to build a path (the destination
 * places files by manifest index), so no entry can write outside its directory. Returns each
 * file's content in order, as views into `parts` where an entry lies within one slice.
 */
export function extractBatch(parts: readonly Buffer[], expected: readonly ExpectedEntry[]): Array<{ index: number; data: Buffer }> {
  const out: Array<{ index: number; data: Buffer }> = [];
  try {
    readEntries(parts, (entry) => {
      const index = out.length;
      const want = expected[index];
      if (!want) throw peerProtocolError('tar batch has more entries than announced');
      if (entry.type !== 'file') throw peerProtocolError(`tar batch entry ${index} is a ${entry.type}, not a file`);
      if (entry.name !== want.name) throw peerProtocolError(`tar batch entry ${index} is named ${JSON.stringify(entry.name)}, expected ${JSON.stringify(want.name)}`);
      if (entry.size !== want.size) throw peerProtocolError(`tar batch entry ${index} has ${entry.size} bytes, expected ${want.size}`);
      out.push({ index, data: entry.data });
    });
  } catch (err) {
    if (isFerryError(err)) throw err;
    throw peerProtocolError(`tar batch is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (out.length !== expected.length) throw peerProtocolError(`tar batch has ${out.length} entries, ${expected.length} announced`);
  return out;
}
