import { ERROR_CATALOG, eventCodeOfCode, isBoundedRetry, isErrorCode, isFerryError, type CatalogEntry, type ErrorCode } from '../../common/errors.js';

/**
 * What a task does about a failure (STYLE §7): give up (`fail`, the task ends FAILED with
 * fatal_error), wait for an agent to come back (`wait`), or try again after a backoff
 * (`retry`). `code` is the Globus event code (globus-api.md §2.5) the task reports.
 *
 * There is one classification: the error catalog (src/common/errors.ts). A Ferry error code's
 * `action` decides (`fail` and `fatal` fail the task, `retry` retries it), its `event` names
 * the event code, and `bounded` codes (InternalError, a peer's protocol error, …) are retried
 * at most `TaskLimits.unexpectedErrorRetries` times in a row (see TaskTransitions.retry).
 * Two task-level rules refine it: GC_NOT_CONNECTED waits instead of backing off, and with
 * fail_on_quota_errors a full disk or quota fails the task (Globus §2.2).
 */
export type FailureAction = 'fail' | 'wait' | 'retry';

export interface Failure {
  code: string;
  message: string;
  action: FailureAction;
  /** A `retry` that the task gives up after a few attempts in a row (catalog `bounded`). */
  bounded?: boolean;
}

export interface ClassifyOptions {
  failOnQuotaErrors: boolean;
}

const EVENT_CODE_RE = /^[A-Z][A-Z_]{0,63}$/;
const QUOTA_EVENTS = new Set(['QUOTA_EXCEEDED', 'NO_SPACE_LEFT']);

/** The decision for an error code, reported under `eventCode` (default: the catalog's). */
export function classifyFerryCode(code: ErrorCode, eventCode: string | undefined, message: string, opts: ClassifyOptions): Failure {
  const event = eventCode !== undefined && EVENT_CODE_RE.test(eventCode) ? eventCode : eventCodeOfCode(code);
  if (ERROR_CATALOG[code].action !== 'retry') return { code: event, message, action: 'fail' };
  // A full disk counts as a quota error: fail_on_quota_errors decides between failing and waiting for space.
  if (QUOTA_EVENTS.has(event) && opts.failOnQuotaErrors) return { code: event, message, action: 'fail' };
  if (event === 'GC_NOT_CONNECTED') return { code: event, message, action: 'wait' };
  return isBoundedRetry(code) ? { code: event, message, action: 'retry', bounded: true } : { code: event, message, action: 'retry' };
}

/**
 * Event code -> the error code it stands for, when only an event code is known (a
 * session.done from an agent that does not send `ferryCode`). Built from the catalog: an
 * event whose codes all fail fails; one that some code retries retries. Event codes no
 * catalog entry names count as InternalError (retried a few times, then failed).
 */
const CODE_OF_EVENT: ReadonlyMap<string, ErrorCode> = (() => {
  const byEvent = new Map<string, ErrorCode>();
  for (const code of Object.keys(ERROR_CATALOG) as ErrorCode[]) {
    const event = eventCodeOfCode(code);
    const seen = byEvent.get(event);
    // Prefer a retrying code, and among those an unbounded one: when in doubt, keep trying.
    const rank = (c: ErrorCode) => (ERROR_CATALOG[c].action !== 'retry' ? 0 : isBoundedRetry(c) ? 1 : 2);
    if (seen === undefined || rank(code) > rank(seen)) byEvent.set(event, code);
  }
  return byEvent;
})();

/** Classify a Globus event code alone (e.g. `FILE_NOT_FOUND`); anything malformed is UNKNOWN. */
export function classifyCode(code: string, message: string, opts: ClassifyOptions): Failure {
  const event = EVENT_CODE_RE.test(code) ? code : 'UNKNOWN';
  return classifyFerryCode(CODE_OF_EVENT.get(event) ?? 'InternalError', event, message, opts);
}

/** Classify a failed session.done: by its Ferry error code when the agent sent one, else by its event code. */
export function classifySessionError(error: { code: string; message: string; ferryCode?: string | undefined }, message: string, opts: ClassifyOptions): Failure {
  if (isErrorCode(error.ferryCode)) return classifyFerryCode(error.ferryCode, error.code, message, opts);
  return classifyCode(error.code, message, opts);
}

/** Classify an error thrown by a hub call (session.open, delete). */
export function classifyError(err: unknown, opts: ClassifyOptions): Failure {
  const message = err instanceof Error ? err.message : String(err);
  if (!isFerryError(err)) return classifyFerryCode('InternalError', undefined, message, opts);
  // errorFromWire turns an unknown wire code into InternalError "CODE: message"; an event code there is classified as one.
  const wire = err.code === 'InternalError' ? /^([A-Z][A-Z_]*): /.exec(message) : null;
  if (wire) return classifyCode(wire[1]!, message.slice(wire[0].length), opts);
  const given = err.details?.['eventCode'];
  const failure = classifyFerryCode(err.code, typeof given === 'string' ? given : undefined, message, opts);
  // A code without an event of its own is reported as ENDPOINT_ERROR: the message says which error it was.
  const entry: CatalogEntry = ERROR_CATALOG[err.code];
  return entry.event === undefined && given === undefined ? { ...failure, message: `${err.code}: ${message}` } : failure;
}

/** Globus's short lowercase description of an event code: FILE_NOT_FOUND -> "file not found". */
export function describeCode(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}
