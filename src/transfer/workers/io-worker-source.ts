/**
 * Source of the I/O worker threads, run with `new Worker(source, { eval: true })`: an eval'd
 * CommonJS script works the same from the TypeScript sources (tests) and from dist/, where a
 * separate worker file would need a build step of its own. hash-wasm is required by the
 * absolute path the parent passes in workerData.
 *
 * Two kinds of work, both kept off the event loop:
 *  - hashing: streaming hashes fed by the parent (bytes in SharedArrayBuffers are hashed in
 *    place and acknowledged), and whole files read here;
 *  - batched file-system work with synchronous calls: a run of lstats, reading a batch of
 *    small files, committing a group of files. A thread making plain syscalls costs a fraction
 *    of the CPU that one promise per operation costs on the event loop (measured about 6x for
 *    small files), and one message carries hundreds of files.
 *
 * In:  {op:'open', stream, algorithm} | {op:'update', stream, data, id?} | {op:'digest', stream, id}
 *      {op:'drop', stream} | {op:'file', id, path, algorithm}
 *      {op:'lstat', id, paths} | {op:'read', id, files:[{path,size}], algorithm}
 *      {op:'commit', id, files:[{partial, final, dataOffset?, dataLength?, mode, mtimeMs, verify, expected}], data, durable}
 * Out: {id, ...result} | {id, error: {code, message}}
 */
export const IO_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const hashWasm = require(workerData.hashWasmPath);

async function make(algorithm) {
  if (algorithm === 'xxh128') {
    const h = await hashWasm.createXXHash128();
    h.init();
    return { update: (d) => h.update(d), digest: () => h.digest('hex') };
  }
  const h = crypto.createHash(algorithm);
  return { update: (d) => h.update(d), digest: () => h.digest('hex') };
}

// One xxh128 instance for synchronous use (init..digest never spans an await).
let xxhSync = null;
const ready = hashWasm.createXXHash128().then((h) => { xxhSync = h; });

function syncHasher(algorithm) {
  if (algorithm === 'xxh128') {
    xxhSync.init();
    return { update: (d) => xxhSync.update(d), digest: () => xxhSync.digest('hex') };
  }
  const h = crypto.createHash(algorithm);
  return { update: (d) => h.update(d), digest: () => h.digest('hex') };
}

const streams = new Map();
function reply(id, value, transfer) { parentPort.postMessage(Object.assign({ id }, value), transfer || []); }
function replyError(id, err) {
  reply(id, { error: { code: (err && err.code) || 'EIO', message: String((err && err.message) || err) } });
}
function failure(err) { return { errno: (err && err.code) || 'EIO', message: String((err && err.message) || err) }; }

async function hashFile(file, algorithm) {
  const h = await make(algorithm);
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { checksum: h.digest(), bytes };
  } finally {
    await fh.close();
  }
}

let scratch = null;
function hashFd(fd, algorithm) {
  const h = syncHasher(algorithm);
  scratch = scratch || Buffer.allocUnsafe(1024 * 1024);
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, scratch, 0, scratch.length, pos);
    if (n === 0) break;
    h.update(scratch.subarray(0, n));
    pos += n;
  }
  return h.digest();
}

function lstatMany(paths) {
  return paths.map((p) => {
    try {
      const st = fs.lstatSync(p);
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      return { kind, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
    } catch (err) {
      return failure(err);
    }
  });
}

// Small whole files, read into one buffer (transferred, not copied) and hashed.
function readFiles(files, algorithm) {
  const total = files.reduce((n, f) => n + f.size, 0);
  const all = Buffer.from(new ArrayBuffer(total));
  const results = [];
  let at = 0;
  for (const f of files) {
    let fd;
    try {
      fd = fs.openSync(f.path, 'r');
      const st = fs.fstatSync(fd);
      let got = 0;
      if (st.size === f.size) {
        while (got < f.size) {
          const n = fs.readSync(fd, all, at + got, f.size - got, got);
          if (n === 0) break;
          got += n;
        }
      }
      // One byte more would show a file that grew since it was stat'ed.
      if (st.size !== f.size || got !== f.size || fs.readSync(fd, Buffer.alloc(1), 0, 1, got) !== 0) {
        results.push({ errno: 'ECHANGED', message: 'size changed' });
      } else {
        const h = syncHasher(algorithm);
        h.update(all.subarray(at, at + f.size));
        results.push({ offset: at, checksum: h.digest() });
        at += f.size;
      }
    } catch (err) {
      results.push(failure(err));
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return { results, buffer: all.buffer };
}

// Make files durable at their final paths; see Committer in commit.ts. Files go in slices:
// write (small files), verify, set mode and mtime on each, then fsync the slice's files all
// at once (the file system merges concurrent flushes into shared journal commits; measured
// 2x faster than one after the other with libuv's 4 threads, 9x with 16), then close and
// rename; the directories are flushed once at the end.
const SLICE = 64;
const fsyncAsync = (fd) => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));

async function commit(files, durable, data) {
  const bytes = data ? Buffer.from(data) : null;
  const results = new Array(files.length);
  const dirs = new Set();
  const now = Date.now() / 1000;
  for (let start = 0; start < files.length; start += SLICE) {
    const open = [];
    for (let k = start; k < Math.min(start + SLICE, files.length); k++) {
      const f = files[k];
      let fd;
      try {
        if (f.dataOffset !== undefined) {
          fd = fs.openSync(f.partial, 'w+', 0o600);
          const mine = bytes ? bytes.subarray(f.dataOffset, f.dataOffset + f.dataLength) : Buffer.alloc(0);
          let done = 0;
          while (done < mine.length) done += fs.writeSync(fd, mine, done, mine.length - done, done);
        } else {
          fd = fs.openSync(f.partial, 'r');
        }
        if (f.verify) {
          const computed = hashFd(fd, f.verify);
          if (computed !== f.expected) {
            fs.closeSync(fd);
            results[k] = { mismatch: computed };
            continue;
          }
        }
        fs.fchmodSync(fd, f.mode & 0o777);
        if (f.mtimeMs !== null) fs.futimesSync(fd, now, f.mtimeMs / 1000);
        open.push({ k, fd });
      } catch (err) {
        if (fd !== undefined) fs.closeSync(fd);
        results[k] = failure(err);
      }
    }
    if (durable) {
      const flushed = await Promise.allSettled(open.map(({ fd }) => fsyncAsync(fd)));
      flushed.forEach((r, j) => { if (r.status === 'rejected') results[open[j].k] = failure(r.reason); });
    }
    for (const { k, fd } of open) {
      fs.closeSync(fd);
      if (results[k]) continue;
      try {
        fs.renameSync(files[k].partial, files[k].final);
        dirs.add(path.dirname(files[k].final));
        results[k] = { ok: true };
      } catch (err) {
        results[k] = failure(err);
      }
    }
  }
  let dirError = null;
  if (durable) {
    const flushed = await Promise.allSettled([...dirs].map(async (d) => {
      const fd = fs.openSync(d, 'r');
      try { await fsyncAsync(fd); } finally { fs.closeSync(fd); }
    }));
    for (const r of flushed) if (r.status === 'rejected') dirError = dirError || failure(r.reason);
  }
  return { results, dirError };
}

parentPort.on('message', async (m) => {
  try {
    switch (m.op) {
      case 'open':
        streams.set(m.stream, make(m.algorithm));
        return;
      case 'update': {
        const p = streams.get(m.stream);
        if (!p) { if (m.id !== undefined) replyError(m.id, new Error('unknown hash stream')); return; }
        streams.set(m.stream, p.then((h) => {
          h.update(m.data);
          if (m.id !== undefined) reply(m.id, {});
          return h;
        }));
        return;
      }
      case 'digest': {
        const p = streams.get(m.stream);
        streams.delete(m.stream);
        if (!p) { replyError(m.id, new Error('unknown hash stream')); return; }
        reply(m.id, { checksum: (await p).digest() });
        return;
      }
      case 'drop':
        streams.delete(m.stream);
        return;
      case 'file':
        reply(m.id, await hashFile(m.path, m.algorithm));
        return;
      case 'lstat':
        reply(m.id, { stats: lstatMany(m.paths) });
        return;
      case 'read': {
        await ready;
        const r = readFiles(m.files, m.algorithm);
        reply(m.id, r, [r.buffer]);
        return;
      }
      case 'commit':
        await ready;
        reply(m.id, await commit(m.files, m.durable, m.data));
        return;
      default:
        replyError(m.id, new Error('unknown op ' + m.op));
    }
  } catch (err) {
    if (m.id !== undefined) replyError(m.id, err);
  }
});
`;
