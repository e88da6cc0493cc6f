import { FerryError, isProgrammerError, type ErrorCode } from '../../common/errors.js';

/**
 * Host file-system errors (Node's errno errors) become catalog errors here, once, so every
 * operation reports the same code for the same condition. Messages name the API path the
 * user sent, never the host path, so a refusal does not reveal the host's layout.
 */

export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

const DEFAULT_CODES: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'ClientError.NotFound',
  EACCES: 'ExternalError.PermissionDenied',
  EPERM: 'ExternalError.PermissionDenied',
  ENOTDIR: 'ExternalError.NotDirectory',
};

const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTDIR: 'A path component is not a directory',
  EEXIST: 'Already exists',
  ENOTEMPTY: 'Already exists',
  ELOOP: 'Too many levels of symbolic links',
  EXDEV: 'Crosses file systems',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EIO: 'I/O error',
};

/**
 * The error to throw for `err`, raised while working on `apiPath`. FerryErrors and programmer
 * errors (TypeError, …) pass through unchanged: only runtime conditions are translated.
 * `overrides` lets an operation give an errno its own meaning (mkdir: EEXIST -> Exists).
 */
export function toFerryError(err: unknown, apiPath: string, overrides: Readonly<Record<string, ErrorCode>> = {}): Error {
  if (err instanceof FerryError || isProgrammerError(err)) return err as Error;
  const errno = errnoCode(err);
  if (errno === undefined) {
    return new FerryError('ExternalError.IOError', `${err instanceof Error ? err.message : String(err)}: ${apiPath}`, { cause: err });
  }
  const code = overrides[errno] ?? DEFAULT_CODES[errno] ?? 'ExternalError.IOError';
  return new FerryError(code, `${WORDS[errno] ?? 'File system error'} (${errno}): ${apiPath}`, { cause: err });
}

/** True for the errnos that mean "nothing usable is there" while walking a path. */
export function isMissing(err: unknown): boolean {
  const errno = errnoCode(err);
  return errno === 'ENOENT' || errno === 'ELOOP';
}
