import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Mode for private keys and other secrets: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode for certificates: public material, but only the owner may replace them. */
export const PUBLIC_FILE_MODE = 0o644;
/** Mode for a directory that holds private keys. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Write `data` to `path` atomically: a temp file in the same directory (so the rename never
 * crosses a file system) is written, fsynced, given `mode` and renamed over the target, then
 * the directory is fsynced so the rename survives a crash. Readers see the old file or the
 * new one, never a torn one. The temp file is created with `mode` from the start, so a
 * secret is never readable by others even for an instant.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  let closed = false;
  let renamed = false;
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    // The umask may have stripped bits from `mode`, or (odd umasks) left it different.
    chmodSync(tmp, mode);
    renameSync(tmp, path);
    renamed = true;
  } finally {
    if (!closed) closeSync(fd);
    if (!renamed) {
      try { unlinkSync(tmp); } catch { /* already gone */ }
    }
  }
  fsyncDir(dir);
}

/** Write a secret file atomically (tmp file in same dir + rename) with mode 0600. */
export function writePrivateFile(path: string, data: string): void {
  writeFileAtomic(path, data, PRIVATE_FILE_MODE);
}

/** Write a certificate atomically with mode 0644. */
export function writePublicFile(path: string, data: string): void {
  writeFileAtomic(path, data, PUBLIC_FILE_MODE);
}

/**
 * Create `dir` (and missing parents) with mode 0700. An existing directory is left as it is:
 * an admin may have chosen its mode and owner on purpose.
 */
export function ensurePrivateDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  // mkdir's mode is filtered by the umask; make the leaf exactly 0700 when we created it.
  if (created !== undefined) chmodSync(dir, PRIVATE_DIR_MODE);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself already happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
