import { isFerryError, type ErrorCode } from '../../common/errors.js';

/**
 * What a task does about a failure (STYLE §7): give up (`fail`, the task ends FAILED with
 * fatal_error), wait for an agent to come back (`wait`), or try again after a backoff
 * (`retry`). Codes are Globus event codes (globus-api.md §2.5).
 */
export type FailureAction = 'fail' | 'wait' | 'retry';

export interface Failure {
  code: string;
  message: string;
  action: FailureAction;
}

/**
 * Errors that will not go away by trying again: the paths or permissions are wrong. Globus
 * retries some of these until the deadline; Ferry fails fast so clients do not hang
 * (globus-api.md §6.2). QUOTA_EXCEEDED joins them when the task asks for fail_on_quota_errors.
 */
const PERMANENT = new Set([
  'FILE_NOT_FOUND', 'PERMISSION_DENIED', 'INVALID_PATH_NAME', 'NOT_A_DIRECTORY', 'IS_A_DIRECTORY', 'NOT_A_FILE',
  'AMBIGUOUS_PATH', 'INVALID_SYMLINK', 'NOT_A_SYMLINK', 'EXTERNAL_CHECKSUM_MISMATCH', 'NO_APPEND_FILESYSTEM',
]);

/** Ferry error codes an agent may answer with, as the Globus event code they mean. */
const EVENT_CODE_OF: Partial<Record<ErrorCode, string>> = {
  EndpointPermissionDenied: 'PERMISSION_DENIED',
  'ExternalError.PermissionDenied': 'PERMISSION_DENIED',
  'ClientError.NotFound': 'FILE_NOT_FOUND',
  'ClientError.BadRequest.InvalidPath': 'INVALID_PATH_NAME',
  'ExternalError.NotDirectory': 'NOT_A_DIRECTORY',
  'ExternalError.DirListingFailed.NotDirectory': 'NOT_A_DIRECTORY',
  'ExternalError.GCDisconnected': 'GC_NOT_CONNECTED',
  'ExternalError.Timeout': 'TIMEOUT',
  'ExternalError.IOError': 'ENDPOINT_ERROR',
  'Link.Closed': 'CONNECTION_BROKEN',
};

const EVENT_CODE_RE = /^[A-Z][A-Z_]*$/;

export function classifyCode(code: string, message: string, opts: { failOnQuotaErrors: boolean }): Failure {
  const c = EVENT_CODE_RE.test(code) ? code : 'UNKNOWN';
  if (c === 'GC_NOT_CONNECTED') return { code: c, message, action: 'wait' };
  // A full disk counts as a quota error: fail_on_quota_errors decides between failing and waiting for space.
  const permanent = PERMANENT.has(c) || ((c === 'QUOTA_EXCEEDED' || c === 'NO_SPACE_LEFT') && opts.failOnQuotaErrors);
  return { code: c, message, action: permanent ? 'fail' : 'retry' };
}

/** Classify an error thrown by a hub call (session.open, delete). */
export function classifyError(err: unknown, opts: { failOnQuotaErrors: boolean }): Failure {
  const message = err instanceof Error ? err.message : String(err);
  if (!isFerryError(err)) return { code: 'INTERNAL_ERROR', message, action: 'retry' };
  const mapped = EVENT_CODE_OF[err.code];
  if (mapped !== undefined) return classifyCode(mapped, message, opts);
  // errorFromWire turns an unknown wire code into InternalError "CODE: message".
  const wire = /^([A-Z][A-Z_]*): /.exec(message);
  if (err.code === 'InternalError' && wire) return classifyCode(wire[1]!, message.slice(wire[0].length), opts);
  return { code: 'ENDPOINT_ERROR', message: `${err.code}: ${message}`, action: 'retry' };
}

/** Globus's short lowercase description of an event code: FILE_NOT_FOUND -> "file not found". */
export function describeCode(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}
