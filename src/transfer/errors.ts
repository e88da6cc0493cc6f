import { FerryError, eventCodeOfCode, isErrorCode, isFerryError, isProgrammerError, type ErrorCode } from '../common/errors.js';
import type { SkippableCode } from '../protocol/data-frames.js';

/**
 * Session failures are FerryErrors whose `details.eventCode` is the Globus event code control
 * puts in the task's fatal_error and event list. The event code of an error code comes from
 * the one catalog (src/common/errors.ts `event`); `details.eventCode` only refines it (a
 * WrongType is IS_A_DIRECTORY or NOT_A_DIRECTORY). Host file-system errors are translated
 * here, once; messages name API paths, never host paths.
 */

export function transferError(code: ErrorCode, message: string, eventCode: string, cause?: unknown): FerryError {
  return new FerryError(code, message, { details: { eventCode }, ...(cause === undefined ? {} : { cause }) });
}

/** A guest's access checked again mid-session (PathResolver.checkRead/checkWrite): a refusal ends the session with PERMISSION_DENIED. */
export function recheckAccess(check: ((apiPath: string) => void) | undefined, apiPath: string): void {
  if (!check) return;
  try {
    check(apiPath);
  } catch (err) {
    throw transferError('Transfer.PermissionDenied', err instanceof Error ? err.message : String(err), 'PERMISSION_DENIED', err);
  }
}

export function peerProtocolError(message: string): FerryError {
  return transferError('Transfer.PeerProtocol', `peer protocol error: ${message}`, 'ENDPOINT_ERROR');
}

export function canceledError(reason?: unknown): FerryError {
  return transferError('Transfer.Canceled', 'Canceled', 'CANCELED', reason);
}

export function connectionLost(message: string, cause?: unknown): FerryError {
  return transferError('Transfer.ConnectionLost', message, 'CONNECTION_BROKEN', cause);
}

export function eventCodeOf(err: FerryError): string {
  const given = err.details?.['eventCode'];
  if (typeof given === 'string' && /^[A-Z_]{1,64}$/.test(given)) return given;
  return eventCodeOfCode(err.code);
}

/** Any error as a FerryError that carries details.eventCode. */
export function asTransferError(err: unknown): FerryError {
  if (isFerryError(err)) {
    if (typeof err.details?.['eventCode'] === 'string') return err;
    return new FerryError(err.code, err.message, { cause: err, details: { ...err.details, eventCode: eventCodeOf(err) } });
  }
  if (isProgrammerError(err)) return transferError('InternalError', `internal error: ${(err as Error).message}`, 'INTERNAL_ERROR', err);
  return fsError(err, 'destination', '(session)');
}

/** Rebuild the peer's ERROR frame; codes we do not know become InternalError. */
export function errorFromPeer(frame: { code: string; message: string; eventCode: string }): FerryError {
  const code: ErrorCode = isErrorCode(frame.code) ? frame.code : 'InternalError';
  return new FerryError(code, `peer: ${frame.message}`, { details: { eventCode: frame.eventCode, fromPeer: true } });
}

export function errnoOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A host file-system error met while working on `apiPath`. `side` matters for ENOENT: a
 * missing source is FILE_NOT_FOUND; on the destination it means the tree changed under us.
 */
export function fsError(err: unknown, side: 'source' | 'destination', apiPath: string): FerryError {
  if (isFerryError(err)) return asTransferError(err);
  const errno = errnoOf(err);
  const what = `${err instanceof Error ? err.message.split(':')[0] : String(err)}: ${apiPath}`;
  switch (errno) {
    case 'ENOENT':
      return side === 'source'
        ? transferError('Transfer.SourceNotFound', `No such file or directory: ${apiPath}`, 'FILE_NOT_FOUND', err)
        : transferError('ExternalError.IOError', `A destination directory vanished (ENOENT): ${apiPath}`, 'FILE_NOT_FOUND', err);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return transferError('Transfer.PermissionDenied', `Permission denied (${errno}): ${apiPath}`, 'PERMISSION_DENIED', err);
    case 'ENOSPC':
      return transferError('Transfer.NoSpace', `No space left on device: ${apiPath}`, 'NO_SPACE_LEFT', err);
    case 'EDQUOT':
      return transferError('Transfer.QuotaExceeded', `Disk quota exceeded: ${apiPath}`, 'QUOTA_EXCEEDED', err);
    case 'EISDIR':
      return transferError('Transfer.WrongType', `Is a directory: ${apiPath}`, 'IS_A_DIRECTORY', err);
    case 'ENOTDIR':
      return transferError('Transfer.WrongType', `Not a directory: ${apiPath}`, 'NOT_A_DIRECTORY', err);
    case 'ENAMETOOLONG':
      return transferError('ClientError.BadRequest.InvalidPath', `Name too long: ${apiPath}`, 'INVALID_PATH_NAME', err);
    default:
      return transferError('ExternalError.IOError', `I/O error (${errno ?? 'unknown'}) ${what}`, 'ENDPOINT_ERROR', err);
  }
}

/** The skip_source_errors code for a source-side failure, or null when it must not be skipped. */
export function skippableCode(err: FerryError): SkippableCode | null {
  const event = eventCodeOf(err);
  return event === 'FILE_NOT_FOUND' || event === 'PERMISSION_DENIED' || event === 'INVALID_PATH_NAME' ? event : null;
}

/** An errno reported by a worker thread, as the Error fsError() expects. */
export function errnoError(errno: string, message = errno): Error {
  return Object.assign(new Error(message), { code: errno });
}
