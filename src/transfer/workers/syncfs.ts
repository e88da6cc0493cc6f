import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { rawFs } from '../../fs/load.js';

/**
 * The write-back hint of the I/O worker's durable commits (commit.ts).
 *
 * A group of many small files is first written back with one syncfs(2) of their file system,
 * then fsync'ed file by file. The syncfs is only a hint, never the guarantee: every file still
 * gets its own fsync on the descriptor that wrote it, which reports any write-back error of that
 * file and makes it durable if the syncfs did not (or did not run, or is still running). After
 * the syncfs those fsyncs find almost nothing left to write. Per-file fsyncs alone write each
 * file's inode-table block (and, on ext4 without a journal, its directory's blocks) once per
 * file, synchronously, and flush the device each time; one write-back of the whole group writes
 * each shared block once, in large merged writes. Measured for 20,000 files of 4 KiB in 100
 * directories (ext4, no journal, 2 cores; same agents alternating): 2,800-2,900 files/s and
 * 9.8 CPU-s with fsyncs alone, 3,300-4,150 files/s and 6.8-9.0 CPU-s (+0.3 s in the helper)
 * with the syncfs first.
 * Node cannot call syncfs. With the native addon, the worker asks for one on libuv's thread
 * pool (rawFs.syncfsAsync, on a copy of the directory's descriptor), so the worker's own thread
 * goes on with other jobs meanwhile. Without it (the twin), a helper shell, started once per
 * worker, runs coreutils' "sync -f DIR" for each line it reads (forking the agent per group would
 * cost its main thread copy-on-write faults); it ends with its stdin, i.e. with the worker or the
 * agent. A syncfs or "sync" that fails (missing, no -f) turns the hint off for good; plain fsyncs
 * then do all the work.
 */

export const SYNCFS_MIN_FILES = 64;
export const SYNCFS_MAX_OPEN = 256;
// Longest wait for a hint before the fsyncs start anyway: other programs' dirty data on the
// same file system can make a syncfs slow. After such a wait, groups go without the hint for a
// while (plain fsyncs only pay for their own files).
const SYNCFS_WAIT_MS = 1000;
const SYNCFS_BACKOFF_MS = 60000;
let syncfsUsable = true;
let syncfsQuietUntil = 0;
type Syncer = ChildProcessByStdio<Writable, Readable, null>;
let syncer: Syncer | null = null;
// Lines written to the helper and not yet answered, oldest first, each with its waiters.
const syncLines: Array<Array<() => void>> = [];

/** Whether a durable group of `files` files should wait for a hint (see commit.ts). */
export function syncfsWanted(files: number): boolean {
  return syncfsUsable && files >= SYNCFS_MIN_FILES && Date.now() >= syncfsQuietUntil;
}

function startSyncer(): Syncer | null {
  let child: Syncer;
  try {
    child = spawn('sh', ['-c', 'while IFS= read -r d; do sync -f -- "$d" 2>/dev/null; echo $?; done'], { stdio: ['pipe', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
  child.unref();
  child.stdin.on('error', () => {});
  let text = '';
  child.stdout.on('data', (d: Buffer) => {
    text += d.toString();
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      if (text.slice(0, nl) !== '0') syncfsUsable = false;
      text = text.slice(nl + 1);
      const line = syncLines.shift();
      if (line) for (const w of line) w();
    }
  });
  const gone = (): void => {
    syncfsUsable = false;
    if (syncer === child) syncer = null;
    for (const line of syncLines.splice(0)) for (const w of line) w();
  };
  child.on('error', gone);
  child.on('exit', gone);
  return child;
}

/** Native syncfs calls in flight (at most two) and the newest of them. */
let nativeInFlight = 0;
let nativeNewest: Promise<void> | null = null;

// Each call starts at once (the addon copies the descriptor now, so nothing waits on a number the
// caller may close). With two running, a request shares the newer one: a hint need not be exact,
// and the per-file fsyncs still make every file durable.
function nativeSyncfs(dirFd: number): Promise<void> {
  if (nativeInFlight >= 2 && nativeNewest) return nativeNewest;
  nativeInFlight += 1;
  const p: Promise<void> = rawFs.syncfsAsync(dirFd)
    .catch(() => { syncfsUsable = false; })
    .finally(() => {
      nativeInFlight -= 1;
      if (nativeNewest === p) nativeNewest = null;
    });
  nativeNewest = p;
  return p;
}

/** Wait for `work`, or for SYNCFS_WAIT_MS, whichever is first (a slow one turns the hint off for a while). */
function bounded(work: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      syncfsQuietUntil = Date.now() + SYNCFS_BACKOFF_MS;
      resolve();
    }, SYNCFS_WAIT_MS);
    void work.then(() => { clearTimeout(timer); resolve(); });
  });
}

// Resolves once a syncfs that started after this call has ended (or once that stops being
// worth waiting for). Native: see nativeSyncfs. The helper runs one at a time, so a request
// behind one still queued shares it: the queued one has not started yet.
export function syncfsHint(dirFd: number): Promise<void> {
  if (!syncfsUsable) return Promise.resolve();
  if (rawFs.kind === 'native') return bounded(nativeSyncfs(dirFd));
  // The helper is another process: it reaches our descriptor through /proc/<pid>.
  const dir = `/proc/${process.pid}/fd/${dirFd}`;
  if (!syncer) syncer = startSyncer();
  if (!syncer) {
    syncfsUsable = false;
    return Promise.resolve();
  }
  const child = syncer;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      syncfsQuietUntil = Date.now() + SYNCFS_BACKOFF_MS;
      resolve();
    }, SYNCFS_WAIT_MS);
    const done = (): void => { clearTimeout(timer); resolve(); };
    if (syncLines.length >= 2) {
      syncLines[syncLines.length - 1]!.push(done);
      return;
    }
    syncLines.push([done]);
    child.stdin.write(dir + '\n');
  });
}

