import fs from 'node:fs';
import { closeRef, openRef, type FileRef } from '../../fs/file-ref.js';
import type { ChecksumAlgorithm } from '../../protocol/session.js';
import { syncHasher } from './hashing.js';
import { fileFailure, type ReadIntoResult, type ReadWireResult } from './messages.js';

/**
 * Ops 'read' and 'readInto' on the I/O worker (io-worker.ts): small whole files read with
 * plain synchronous calls and hashed, many per message. Both hash with syncHasher: the
 * dispatcher awaits needXxh first.
 */

/** The one place this file opens files (never through a link at the last component). */
function openForRead(path: FileRef): number {
  return openRef(path, fs.constants.O_RDONLY);
}

// Small whole files, read into one buffer (transferred, not copied) and hashed. Each file is
// read with room for one byte more than its announced size: a short read is its end, so one
// pread shows both that the file is whole and that it did not grow since it was stat'ed (that
// extra byte lands where the next file's bytes go, and is overwritten by them).
export function readFiles(files: ReadonlyArray<{ path: FileRef; size: number }>, algorithm: ChecksumAlgorithm): { results: ReadWireResult[]; buffer: ArrayBuffer } {
  const total = files.reduce((n, f) => n + f.size, 0);
  const buffer = new ArrayBuffer(total + 1);
  const all = Buffer.from(buffer);
  const results: ReadWireResult[] = [];
  let at = 0;
  for (const f of files) {
    let fd: number | undefined;
    try {
      fd = openForRead(f.path);
      const want = f.size + 1;
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, all, at + got, want - got, got);
        got += n;
        if (n === 0 || got < want) break;
      }
      if (got !== f.size) {
        results.push({ errno: 'ECHANGED', message: 'size changed' });
      } else {
        const h = syncHasher(algorithm);
        h.update(all.subarray(at, at + f.size));
        results.push({ offset: at, checksum: h.digest() });
        at += f.size;
      }
    } catch (err) {
      results.push(fileFailure(err));
    } finally {
      if (fd !== undefined) closeRef(f.path, fd);
    }
  }
  return { results, buffer };
}

// Small whole files read straight into their places in a shared buffer (a tar batch being
// laid out by the parent), hashed there. The byte past each file (read to see that it did not
// grow) belongs to what follows it in the buffer, so it is put back.
export function readInto(files: ReadonlyArray<{ path: FileRef; size: number; at: number }>, target: SharedArrayBuffer, algorithm: ChecksumAlgorithm): ReadIntoResult[] {
  const all = Buffer.from(target);
  return files.map((f) => {
    let fd: number | undefined;
    const after = f.at + f.size < all.length ? all[f.at + f.size]! : -1;
    try {
      fd = openForRead(f.path);
      const want = after === -1 ? f.size : f.size + 1;
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, all, f.at + got, want - got, got);
        got += n;
        if (n === 0 || got < want) break;
      }
      // Without room for the extra byte (the buffer's very end), ask the file directly.
      if (after === -1 && got === f.size && fs.readSync(fd, Buffer.alloc(1), 0, 1, got) !== 0) got += 1;
      if (got !== f.size) return { errno: 'ECHANGED', message: 'size changed' };
      const h = syncHasher(algorithm);
      h.update(all.subarray(f.at, f.at + f.size));
      return { checksum: h.digest() };
    } catch (err) {
      return fileFailure(err);
    } finally {
      if (after !== -1) all[f.at + f.size] = after;
      if (fd !== undefined) closeRef(f.path, fd);
    }
  });
}
