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
 *      {op:'updateFile', stream, id, path, offset, length, direct?}
 *      {op:'drop', stream} | {op:'file', id, path, algorithm}
 *      {op:'lstat', id, paths} | {op:'read', id, files:[{path,size}], algorithm}
 *      {op:'readInto', id, files:[{path,size,at}], target: SharedArrayBuffer, algorithm}
 *      {op:'commit', id, files:[{partial, final, dataOffset?, dataLength?, mode, mtimeMs, verify, expected}], data, durable}
 *      (data: an ArrayBuffer or SharedArrayBuffer holding the small files' bytes, or null)
 * Out: {id, ...result} | {id, error: {code, message}}
 */
export const IO_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const { spawn } = require('node:child_process');
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

// One xxh128 instance for synchronous use (init..digest never spans an await), made the first
// time an op needs xxh128, not at start: a WebAssembly instance reserves about 10 GiB of address
// space, which an agent under an address-space limit (ulimit -v, LimitAS=) may not have, and
// sha256 and md5 never need it.
let xxhSync = null;
let xxhReady = null;
function needXxh(algorithm) {
  if (algorithm !== 'xxh128' || xxhSync) return null;
  xxhReady = xxhReady || hashWasm.createXXHash128().then((h) => { xxhSync = h; }, (err) => { xxhReady = null; throw err; });
  return xxhReady;
}

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

let rangeScratch = null;
let directScratch = null;
let directScratchFailedAt = -Infinity;
const DIRECT_ALIGN = 4096;

// The aligned scratch buffer, or null where none can be had (an address-space limit). As with
// allocPreferAligned (aligned-buffers.ts, which this eval'd worker cannot import), a failure is
// not retried for a minute: each failed attempt costs V8 a garbage collection first.
function alignedScratch() {
  if (!directScratch && Date.now() - directScratchFailedAt >= 60000) {
    try {
      directScratch = Buffer.from(new WebAssembly.Memory({ initial: 64, maximum: 64 }).buffer);
    } catch {
      directScratchFailedAt = Date.now();
    }
  }
  return directScratch;
}

// An O_DIRECT descriptor for reading the file, or -1 where the file system refuses O_DIRECT.
function openDirect(file) {
  if (fs.constants.O_DIRECT === undefined) return -1;
  try {
    return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    if (err.code !== 'EINVAL') throw err;
    return -1;
  }
}

// Feed bytes [offset, offset+length) of a file to a streaming hash (verify as a file is
// written: verify-tracker.ts). A file shorter than that is an error. With direct, the bytes
// are read with O_DIRECT (from the device, not the page cache: a file written with O_DIRECT,
// partial-file.ts, is not in the cache, and reading it through the cache would fill it for
// nothing) into a page-aligned buffer (a WebAssembly.Memory: Node has no aligned allocation),
// in whole 4 KiB blocks; where that cannot be (an unaligned offset, a file system without
// O_DIRECT) it reads through the cache. Returns the bytes read with O_DIRECT.
function hashRange(h, file, offset, length, direct) {
  const end = offset + length;
  let directBytes = 0;
  let pos = offset;
  let fd = direct && offset % DIRECT_ALIGN === 0 && alignedScratch() ? openDirect(file) : -1;
  let isDirect = fd >= 0;
  if (fd < 0) fd = fs.openSync(file, 'r');
  try {
    while (pos < end) {
      let n = -1;
      let buf = directScratch;
      if (isDirect && pos % DIRECT_ALIGN === 0) {
        try {
          n = Math.min(fs.readSync(fd, buf, 0, Math.min(buf.length, Math.ceil((end - pos) / DIRECT_ALIGN) * DIRECT_ALIGN), pos), end - pos);
          directBytes += n;
        } catch (err) {
          if (err.code !== 'EINVAL') throw err;
        }
      }
      if (n < 0) {
        if (isDirect) {
          // Refused, or a short direct read ended off a block boundary: the rest through the cache.
          isDirect = false;
          const old = fd;
          fd = -1;
          fs.closeSync(old);
          fd = fs.openSync(file, 'r');
        }
        rangeScratch = rangeScratch || Buffer.allocUnsafe(4 * 1024 * 1024);
        buf = rangeScratch;
        n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      }
      if (n === 0) throw Object.assign(new Error('file is shorter than what was written to it'), { code: 'ESHORT' });
      h.update(buf.subarray(0, n));
      pos += n;
    }
    return directBytes;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

let scratch = null;
function hashFd(fd, algorithm) {
  const h = syncHasher(algorithm);
  scratch = scratch || Buffer.allocUnsafe(1024 * 1024);
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, scratch, 0, scratch.length, pos);
    h.update(scratch.subarray(0, n));
    pos += n;
    // A short read of a regular file is its end: a small file costs one pread, not two.
    if (n < scratch.length) break;
  }
  return h.digest();
}

// A missing path is the common answer on a destination (every new file): throwIfNoEntry
// avoids building an exception (with its stack trace) per file.
function lstatMany(paths) {
  return paths.map((p) => {
    try {
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (st === undefined) return { errno: 'ENOENT', message: 'no such file or directory, lstat ' + JSON.stringify(p) };
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      return { kind, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
    } catch (err) {
      return failure(err);
    }
  });
}

// Small whole files, read into one buffer (transferred, not copied) and hashed. Each file is
// read with room for one byte more than its announced size: a short read is its end, so one
// pread shows both that the file is whole and that it did not grow since it was stat'ed (that
// extra byte lands where the next file's bytes go, and is overwritten by them).
function readFiles(files, algorithm) {
  const total = files.reduce((n, f) => n + f.size, 0);
  const all = Buffer.from(new ArrayBuffer(total + 1));
  const results = [];
  let at = 0;
  for (const f of files) {
    let fd;
    try {
      fd = fs.openSync(f.path, 'r');
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
      results.push(failure(err));
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return { results, buffer: all.buffer };
}

// Small whole files read straight into their places in a shared buffer (a tar batch being
// laid out by the parent), hashed there. The byte past each file (read to see that it did not
// grow) belongs to what follows it in the buffer, so it is put back.
function readInto(files, target, algorithm) {
  const all = Buffer.from(target);
  return files.map((f) => {
    let fd;
    const after = f.at + f.size < all.length ? all[f.at + f.size] : -1;
    try {
      fd = fs.openSync(f.path, 'r');
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
      return failure(err);
    } finally {
      if (after !== -1) all[f.at + f.size] = after;
      if (fd !== undefined) fs.closeSync(fd);
    }
  });
}

// A group of many small files is first written back with one syncfs(2) of their file system,
// then fsync'ed file by file. The syncfs is only a hint, never the guarantee: every file still
// gets its own fsync on the descriptor that wrote it, which reports any write-back error of that
// file and makes it durable if the syncfs did not (or did not run, or is still running). After
// the syncfs those fsyncs find almost nothing left to write. Per-file fsyncs alone write each
// file's inode-table block (and, on ext4 without a journal, its directory's blocks) once per
// file, synchronously, and flush the device each time; one write-back of the whole group writes
// each shared block once, in large merged writes. Measured for 20,000 files of 4 KiB in 100
// directories (ext4, no journal, 2 cores; same agents alternating): 2,800-2,900 files/s and
// 9.8 CPU-s with fsyncs alone, 3,300-4,150 files/s and 6.8-9.0 CPU-s (+0.3 s in the helper)
// with the syncfs first.
// Node cannot call syncfs, so a helper shell, started once per worker, runs coreutils'
// "sync -f DIR" for each line it reads (forking the agent per group would cost its main thread
// copy-on-write faults). It ends with its stdin, i.e. with the worker or the agent. A "sync" that
// fails (missing, no -f) turns the hint off for good; plain fsyncs then do all the work.
const SYNCFS_MIN_FILES = 64;
const SYNCFS_MAX_OPEN = 256;
// Longest wait for a hint before the fsyncs start anyway: other programs' dirty data on the
// same file system can make a syncfs slow. After such a wait, groups go without the hint for a
// while (plain fsyncs only pay for their own files).
const SYNCFS_WAIT_MS = 1000;
const SYNCFS_BACKOFF_MS = 60000;
let syncfsUsable = true;
let syncfsQuietUntil = 0;
let syncer = null;
// Lines written to the helper and not yet answered, oldest first, each with its waiters.
const syncLines = [];

function startSyncer() {
  let child;
  try {
    child = spawn('sh', ['-c', 'while IFS= read -r d; do sync -f -- "$d" 2>/dev/null; echo $?; done'], { stdio: ['pipe', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
  child.unref();
  child.stdin.on('error', () => {});
  let text = '';
  child.stdout.on('data', (d) => {
    text += d.toString();
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      if (text.slice(0, nl) !== '0') syncfsUsable = false;
      text = text.slice(nl + 1);
      const line = syncLines.shift();
      if (line) for (const w of line) w();
    }
  });
  const gone = () => {
    syncfsUsable = false;
    if (syncer === child) syncer = null;
    for (const line of syncLines.splice(0)) for (const w of line) w();
  };
  child.on('error', gone);
  child.on('exit', gone);
  return child;
}

// Resolves once a syncfs that started after this call has ended (or once that stops being
// worth waiting for). A request behind one still queued shares it: the queued one has not
// started yet, since the helper runs one at a time.
function syncfsHint(dir) {
  if (!syncfsUsable || dir.includes('\n')) return Promise.resolve();
  if (!syncer) syncer = startSyncer();
  if (!syncer) {
    syncfsUsable = false;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      syncfsQuietUntil = Date.now() + SYNCFS_BACKOFF_MS;
      resolve();
    }, SYNCFS_WAIT_MS);
    const done = () => { clearTimeout(timer); resolve(); };
    if (syncLines.length >= 2) {
      syncLines[syncLines.length - 1].push(done);
      return;
    }
    syncLines.push([done]);
    syncer.stdin.write(dir + '\n');
  });
}

// Make files durable at their final paths; see Committer in commit.ts. Each file is created,
// written (small files), verified and given its mode and mtime here, with plain syscalls on
// this one thread; its fsync then goes to libuv's pool while the next files are prepared (in a
// group of many files: once all are prepared and the syncfs hint above has written them back),
// and once that fsync is done the file is closed and renamed, again here. Up to WINDOW fsyncs are
// in flight at once: the file system merges concurrent flushes into shared journal commits
// (measured 2x faster than one after the other with libuv's 4 threads, 9x with 16). Creating
// and renaming stay on this thread on purpose: done from several pool threads at once they
// contend for the directory's lock, and the kernel spins on it (measured: about 1 s more
// system time per 20,000 files of 4 KiB). The directories are flushed once at the end.
const WINDOW = 64;
const C = fs.constants;
const CREATE_NEW = C.O_RDWR | C.O_CREAT | C.O_EXCL;
const EMPTY = Buffer.alloc(0);
// The partial of a small file is created with its final permission bits (the bits the file
// gets anyway; it stays hidden under its partial name until renamed), which saves an fchmod per
// file unless the umask takes some of them away.
const umask = process.umask();
const fsyncAsync = (fd) => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));

function openPartial(f) {
  const perm = f.mode & 0o777;
  if (f.dataOffset === undefined) return { fd: fs.openSync(f.partial, 'r'), chmod: true };
  try {
    return { fd: fs.openSync(f.partial, CREATE_NEW, perm), chmod: (perm & umask) !== 0 };
  } catch (err) {
    // Left by an earlier attempt (a re-send after a failed verification): start it over.
    if (!err || err.code !== 'EEXIST') throw err;
    return { fd: fs.openSync(f.partial, 'w+', 0o600), chmod: true };
  }
}

// Everything up to the fsync: {fd} ready to flush, or {result} (a failure or a mismatch).
function prepare(f, bytes, now) {
  let fd;
  try {
    const opened = openPartial(f);
    fd = opened.fd;
    if (f.dataOffset !== undefined) {
      const mine = bytes ? bytes.subarray(f.dataOffset, f.dataOffset + f.dataLength) : EMPTY;
      let done = 0;
      while (done < mine.length) done += fs.writeSync(fd, mine, done, mine.length - done, done);
    }
    if (f.verify) {
      const computed = hashFd(fd, f.verify);
      if (computed !== f.expected) {
        fs.closeSync(fd);
        return { result: { mismatch: computed } };
      }
    }
    if (opened.chmod) fs.fchmodSync(fd, f.mode & 0o777);
    if (f.mtimeMs !== null) fs.futimesSync(fd, now, f.mtimeMs / 1000);
    return { fd };
  } catch (err) {
    if (fd !== undefined) { try { fs.closeSync(fd); } catch { /* the first error is the one to report */ } }
    return { result: failure(err) };
  }
}

async function commit(files, durable, data) {
  const bytes = data ? Buffer.from(data) : null;
  const results = new Array(files.length);
  const dirs = new Set();
  const now = Date.now() / 1000;
  const place = (k, fd) => {
    try {
      fs.closeSync(fd);
      fs.renameSync(files[k].partial, files[k].final);
      dirs.add(path.dirname(files[k].final));
      results[k] = { ok: true };
    } catch (err) {
      results[k] = failure(err);
    }
  };
  let inFlight = 0;
  let wake = null;
  const flushes = [];
  const flush = async (k, fd) => {
    while (inFlight >= WINDOW) await new Promise((resolve) => { wake = resolve; });
    inFlight += 1;
    flushes.push(fsyncAsync(fd).then(() => place(k, fd), (err) => {
      results[k] = failure(err);
      try { fs.closeSync(fd); } catch { /* reported above */ }
    }).finally(() => {
      inFlight -= 1;
      if (wake) { const w = wake; wake = null; w(); }
    }));
  };
  // Many files: all prepared (descriptors kept open), one write-back of the file system, then
  // the per-file fsyncs. Few files: each one's fsync starts as soon as it is prepared.
  const hinted = durable && syncfsUsable && files.length >= SYNCFS_MIN_FILES && Date.now() >= syncfsQuietUntil;
  // [index, fd] pairs prepared and waiting for the hint; at most SYNCFS_MAX_OPEN files are held
  // open at once (a commit group may be larger), so a low RLIMIT_NOFILE is not exhausted.
  let ready = [];
  const flushReady = async () => {
    const batch = ready;
    ready = [];
    if (batch.length >= 2 * SYNCFS_MIN_FILES) await syncfsHint(path.dirname(files[batch[0]].partial));
    for (let j = 0; j < batch.length; j += 2) await flush(batch[j], batch[j + 1]);
  };
  for (let k = 0; k < files.length; k++) {
    const p = prepare(files[k], bytes, now);
    if (p.result) {
      results[k] = p.result;
      continue;
    }
    if (!durable) place(k, p.fd);
    else if (hinted) {
      ready.push(k, p.fd);
      if (ready.length >= 2 * SYNCFS_MAX_OPEN) await flushReady();
    } else await flush(k, p.fd);
  }
  await flushReady();
  await Promise.all(flushes);
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
      case 'updateFile': {
        const p = streams.get(m.stream);
        if (!p) { replyError(m.id, new Error('unknown hash stream')); return; }
        streams.set(m.stream, p.then((h) => {
          try {
            reply(m.id, { direct: hashRange(h, m.path, m.offset, m.length, m.direct === true) });
          } catch (err) {
            replyError(m.id, err);
          }
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
        await needXxh(m.algorithm);
        const r = readFiles(m.files, m.algorithm);
        reply(m.id, r, [r.buffer]);
        return;
      }
      case 'readInto':
        await needXxh(m.algorithm);
        reply(m.id, { results: readInto(m.files, m.target, m.algorithm) });
        return;
      case 'commit':
        await needXxh(m.files.some((f) => f.verify === 'xxh128') ? 'xxh128' : null);
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
