import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { faultPoint } from '../../fs/faults.js';
import { rawFs } from '../../fs/load.js';

/**
 * The write-back hint of the I/O worker's durable commits (commit.ts).
 *
 * A group of many small files is first written back with one syncfs(2) of their file system,
 * then fsync'ed file by file. The syncfs alone is the guarantee only where syncfs-trust.ts says it
 * may stand in for the fsyncs (and this call's own syncfs ended without an error in time);
 * everywhere else it is a hint: every file then gets its own fsync on the descriptor that wrote
 * it, which reports any write-back error of that file and makes it durable if the syncfs did not
 * (or did not run, or is still running). After the syncfs those fsyncs find almost nothing left
 * to write. Per-file fsyncs alone write each
 * file's inode-table block (and, on ext4 without a journal, its directory's blocks) once per
 * file, synchronously, and flush the device each time; one write-back of the whole group writes
 * each shared block once, in large merged writes. Measured for 20,000 files of 4 KiB in 100
 * directories (ext4, no journal, 2 cores; same agents alternating): 2,800-2,900 files/s and
 * 9.8 CPU-s with fsyncs alone, 3,300-4,150 files/s and 6.8-9.0 CPU-s (+0.3 s in the helper)
 * with the syncfs first. Where the syncfs stands in for the fsyncs, the same case went from
 * 2.96-3.42 s to 2.27-2.83 s (the per-file fsyncs each flushed the device, and cost 4 thread
 * hand-offs each on libuv's pool).
 * Node cannot call syncfs. With the native addon, the worker asks for one on libuv's thread
 * pool (rawFs.syncfsAsync, on a copy of the directory's descriptor), so the worker's own thread
 * goes on with other jobs meanwhile. Without it (the twin), a helper shell, started once per
 * worker, runs coreutils' "sync -f DIR" for each line it reads (forking the agent per group would
 * cost its main thread copy-on-write faults); it ends with its stdin, i.e. with the worker or the
 * agent. A "sync" that fails (missing, no -f) turns the hint off for good; plain fsyncs then do
 * all the work. A native syncfs that fails (a write-back error somewhere on the file system)
 * leaves that group's files to their own fsyncs, which name the file.
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

/** Native syncfs calls in flight (at most NATIVE_MAX_IN_FLIGHT) and the newest of them. */
let nativeInFlight = 0;
let nativeNewest: Promise<boolean> | null = null;

// Each call starts at once (the addon copies the descriptor now, so nothing waits on a number the
// caller may close), and resolves true when it ended without an error. With four running, a
// request shares the newest instead and gets false: that one may have started before the
// request's files were written, so it is a hint for them, never their guarantee.
const NATIVE_MAX_IN_FLIGHT = 4;
function nativeSyncfs(dirFd: number): Promise<boolean> {
  if (nativeInFlight >= NATIVE_MAX_IN_FLIGHT && nativeNewest) return nativeNewest.then(() => false);
  nativeInFlight += 1;
  // A failure only says that some file of the file system failed to be written back: the group's
  // files get their own fsyncs, which say which. The hint stays on (an error is seen once).
  let call: Promise<void>;
  try {
    // The fs layer's seam, where tests inject a failed syncfs (faults.ts).
    faultPoint('syncfs', dirFd);
    call = rawFs.syncfsAsync(dirFd);
  } catch (err) {
    call = Promise.reject(err);
  }
  const p: Promise<boolean> = call
    .then(() => true, () => false)
    .finally(() => {
      nativeInFlight -= 1;
      if (nativeNewest === p) nativeNewest = null;
    });
  nativeNewest = p;
  return p;
}

/** `work`'s answer, or false after SYNCFS_WAIT_MS, whichever is first (a slow one turns the hint off for a while). */
function bounded(work: Promise<boolean>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      syncfsQuietUntil = Date.now() + SYNCFS_BACKOFF_MS;
      resolve(false);
    }, SYNCFS_WAIT_MS);
    void work.then((ok) => { clearTimeout(timer); resolve(ok); });
  });
}

// Resolves once a syncfs that started after this call has ended (or once that stops being
// worth waiting for): true when that syncfs was this call's own and reported no error (native
// only). Native: see nativeSyncfs. The helper runs one at a time, so a request behind one still
// queued shares it: the queued one has not started yet.
export function syncfsHint(dirFd: number): Promise<boolean> {
  if (!syncfsUsable) return Promise.resolve(false);
  if (rawFs.kind === 'native') return bounded(nativeSyncfs(dirFd));
  // The helper is another process: it reaches our descriptor through /proc/<pid>.
  const dir = `/proc/${process.pid}/fd/${dirFd}`;
  if (!syncer) syncer = startSyncer();
  if (!syncer) {
    syncfsUsable = false;
    return Promise.resolve(false);
  }
  const child = syncer;
  // The helper's answers are hints only (false): a line may be shared with an older request.
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      syncfsQuietUntil = Date.now() + SYNCFS_BACKOFF_MS;
      resolve(false);
    }, SYNCFS_WAIT_MS);
    const done = (): void => { clearTimeout(timer); resolve(false); };
    if (syncLines.length >= 2) {
      syncLines[syncLines.length - 1]!.push(done);
      return;
    }
    syncLines.push([done]);
    child.stdin.write(dir + '\n');
  });
}

