import { chmodSync, closeSync, constants, existsSync, openSync, statSync } from 'node:fs';

/** Owner read/write only: state databases and logs hold token hashes, paths and task history. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Make `file` (created empty if missing) and any SQLite companions beside it (`-wal`, `-shm`,
 * `-journal`) mode 0600, before SQLite opens it. SQLite gives the companions it creates the
 * database file's mode, so they follow. Existing files that group or others can read are
 * tightened too (a database created by an older Ferry under umask 022). The process umask is
 * left alone: this is library code.
 */
export function preparePrivateDbFile(file: string): void {
  if (file === '' || file === ':memory:' || file.startsWith('file:')) return;
  // O_EXCL: create it ourselves, with our mode, or leave the existing file to the check below.
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) tightenMode(f);
}

/** chmod 0600 if the file exists and group or others have any access (the umask may have left some). */
export function tightenMode(file: string): void {
  if (!existsSync(file)) return;
  if ((statSync(file).mode & 0o077) === 0) return;
  try {
    chmodSync(file, PRIVATE_FILE_MODE);
  } catch (err) {
    // Someone else's file (an admin command run as another user): opening it decides the rest.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}
