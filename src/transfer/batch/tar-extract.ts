import tar from 'tar-stream';
import { peerProtocolError } from '../session/errors.js';

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
 * Extract a batch's tar bytes, checking every entry against the list the batch announced:
 * same name, a regular file, same size, same order, nothing more and nothing less. Names are
 * only compared, never used to build a path (the destination places files by manifest index),
 * so no entry can write outside its directory. Yields each file's content in order.
 */
export async function* extractBatch(tarBytes: readonly Buffer[], expected: readonly ExpectedEntry[]): AsyncGenerator<{ index: number; data: Buffer }> {
  const extract = tar.extract({});
  // Bounded input (one batch), so it is written at once; the reader below consumes it.
  for (const b of tarBytes) extract.write(b);
  (extract as unknown as { end(): void }).end();
  let index = 0;
  try {
    for await (const entry of extract) {
      const want = expected[index];
      const h = entry.header;
      if (!want) throw peerProtocolError('tar batch has more entries than announced');
      if (h.type !== 'file') throw peerProtocolError(`tar batch entry ${index} is a ${h.type}, not a file`);
      if (h.name !== want.name) throw peerProtocolError(`tar batch entry ${index} is named ${JSON.stringify(h.name)}, expected ${JSON.stringify(want.name)}`);
      if (h.size !== want.size) throw peerProtocolError(`tar batch entry ${index} has ${h.size} bytes, expected ${want.size}`);
      const parts: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) parts.push(chunk);
      const data = Buffer.concat(parts);
      if (data.length !== want.size) throw peerProtocolError(`tar batch entry ${index} is truncated`);
      yield { index, data };
      index += 1;
    }
  } catch (err) {
    extract.destroy();
    if (err instanceof Error && err.name === 'FerryError') throw err;
    throw peerProtocolError(`tar batch is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (index !== expected.length) throw peerProtocolError(`tar batch has ${index} entries, ${expected.length} announced`);
}
