/**
 * One catalog of every error Ferry reports, each with a stable `code` string.
 *
 * Codes that reach REST clients follow the Globus Transfer API names (its error and file
 * documents) so existing Globus clients can branch on them.
 * `action` says what the caller should do with the error (rclone's fserrors idea):
 * retry later, give up on this request/file, or stop the process. HTTP statuses and exit
 * codes are derived from the catalog only at the edges.
 *
 * The catalog is also the one failure classification of tasks: when an error ends a transfer
 * or delete attempt, control retries, waits or fails the task by the code's `action`
 * (src/control/tasks/failures.ts) and reports it under the code's Globus `event` code (what
 * the agent's session engine also uses, src/transfer/session/errors.ts).
 * test/unit/control/tasks/failure-classification.test.ts keeps the three in step.
 */
export type ErrorAction = 'retry' | 'fail' | 'fatal';

export interface CatalogEntry {
  readonly status: number;
  readonly action: ErrorAction;
  readonly summary: string;
  /**
   * The Globus task event code (globus-api.md §2.5) a task reports when this error ends an
   * attempt: its fatal_error, nice_status and event. Default DEFAULT_EVENT_CODE. A thrown
   * error may name a more precise one in `details.eventCode` (IS_A_DIRECTORY vs NOT_A_DIRECTORY).
   */
  readonly event?: string;
  /**
   * Only with `retry`: the error points at a bug or a broken peer rather than at a condition
   * that passes, so a task retries it a bounded number of times in a row (control's
   * `tasks.unexpectedErrorRetries`), then fails, instead of retrying until its deadline.
   */
  readonly bounded?: boolean;
}

/** The event code of catalog entries that name none. */
export const DEFAULT_EVENT_CODE = 'ENDPOINT_ERROR';

export const ERROR_CATALOG = {
  // Generic request errors (REST and link).
  BadRequest: { status: 400, action: 'fail', summary: 'The request is malformed.' },
  'ClientError.BadRequest': { status: 400, action: 'fail', summary: 'The request body or query is invalid.' },
  'ClientError.BadRequest.InvalidPath': { status: 400, action: 'fail', event: 'INVALID_PATH_NAME', summary: 'A path is empty, too long, contains a NUL byte or is not absolute.' },
  'ClientError.BadRequest.NoTransferItems': { status: 400, action: 'fail', summary: 'A transfer requires at least one item.' },
  'ClientError.AuthenticationFailed': { status: 401, action: 'fail', summary: 'The bearer token is missing, unknown, expired or malformed.' },
  PermissionDenied: { status: 403, action: 'fail', event: 'PERMISSION_DENIED', summary: 'The caller lacks a role needed for this request.' },
  EndpointPermissionDenied: { status: 403, action: 'fail', event: 'PERMISSION_DENIED', summary: 'The endpoint refused access to the path (outside its roots, or read-only).' },
  'ClientError.NotFound': { status: 404, action: 'fail', event: 'FILE_NOT_FOUND', summary: 'The route, file or directory does not exist.' },
  EndpointNotFound: { status: 404, action: 'fail', summary: 'No endpoint has this id.' },
  EndpointDeleted: { status: 404, action: 'fail', summary: 'The endpoint was deleted.' },
  TaskNotFound: { status: 404, action: 'fail', summary: 'No task with this id is visible to the caller.' },
  'ClientError.BadMethod': { status: 405, action: 'fail', summary: 'The route exists but not for this HTTP method.' },
  'ClientError.Conflict': { status: 409, action: 'fail', summary: 'The request conflicts with the current state.' },
  'ClientError.PayloadTooLarge': { status: 413, action: 'fail', summary: 'The request body is larger than allowed.' },
  'ClientError.TooManyRequests': { status: 429, action: 'retry', summary: 'The caller is over a limit control sets per identity (file operations in flight, changes to access rules and roles per minute, notification e-mails per hour), or over the entries its listings may hold at once on an agent (limits.lsEntriesPerUser); retry after the Retry-After seconds.' },
  'ClientError.Conflict.TooManyPendingJobs': { status: 409, action: 'fail', summary: 'The caller already has the most active tasks that control allows; wait for some to finish or cancel them.' },
  InternalError: { status: 500, action: 'retry', bounded: true, event: 'INTERNAL_ERROR', summary: 'An unexpected error; the log has details. A task retries it a few times in a row, then fails.' },
  ServiceUnavailable: { status: 503, action: 'retry', summary: 'The service is shutting down or not ready.' },
  'ClientError.BadRequest.InvalidFilterRule': { status: 400, action: 'fail', summary: 'A transfer filter rule is malformed (a bad glob, or a name with a slash).' },

  // Errors raised by the endpoint agent while running a file operation.
  'ExternalError.DirListingFailed.NotDirectory': { status: 502, action: 'fail', event: 'NOT_A_DIRECTORY', summary: 'ls was asked to list something that is not a directory.' },
  'ExternalError.DirListingFailed.SizeLimit': { status: 502, action: 'fail', event: 'LIMIT_EXCEEDED', summary: 'The directory has more entries than the agent lists at once.' },
  'ExternalError.MkdirFailed.Exists': { status: 502, action: 'fail', event: 'ENDPOINT_ERROR', summary: 'mkdir target already exists.' },
  'ExternalError.RenameFailed.Exists': { status: 502, action: 'fail', event: 'ENDPOINT_ERROR', summary: 'rename target already exists.' },
  'ExternalError.PermissionDenied': { status: 502, action: 'fail', event: 'PERMISSION_DENIED', summary: 'The host file system refused the operation (EACCES/EPERM).' },
  'ExternalError.IOError': { status: 502, action: 'retry', event: 'ENDPOINT_ERROR', summary: 'The host file system reported an I/O error.' },
  'ExternalError.NotDirectory': { status: 502, action: 'fail', event: 'NOT_A_DIRECTORY', summary: 'A parent component of the path is not a directory.' },
  'ExternalError.GCDisconnected': { status: 502, action: 'retry', event: 'GC_NOT_CONNECTED', summary: 'The endpoint agent is not connected to control right now.' },
  'ExternalError.Timeout': { status: 504, action: 'retry', event: 'TIMEOUT', summary: 'The endpoint agent did not answer in time.' },
  NotFound: { status: 404, action: 'fail', event: 'FILE_NOT_FOUND', summary: 'stat: the path does not exist on the endpoint (Globus answers NotFound, not ClientError.NotFound).' },
  'ExternalError.DirListingFailed.GCDisconnected': { status: 502, action: 'retry', event: 'GC_NOT_CONNECTED', summary: 'ls: the endpoint agent is not connected to control right now.' },
  'ExternalError.DirListingFailed.PermissionDenied': { status: 502, action: 'fail', event: 'PERMISSION_DENIED', summary: 'ls: the host file system refused to list the directory.' },
  'ExternalError.MkdirFailed.PermissionDenied': { status: 502, action: 'fail', event: 'PERMISSION_DENIED', summary: 'mkdir: the host file system refused to create the directory.' },
  'ExternalError.RenameFailed.PermissionDenied': { status: 502, action: 'fail', event: 'PERMISSION_DENIED', summary: 'rename: the host file system refused the rename.' },

  // Sharing: guest collections, access rules and roles (globus-api.md §1.4, §1.5, §3).
  AccessRuleNotFound: { status: 404, action: 'fail', summary: 'No access rule with this id on this endpoint.' },
  RoleNotFound: { status: 404, action: 'fail', summary: 'No role with this id on this endpoint.' },
  Exists: { status: 409, action: 'fail', summary: 'An equal access rule or role already exists.' },
  'Sharing.NotShareable': { status: 403, action: 'fail', event: 'PERMISSION_DENIED', summary: "The host path is not below a root that the agent's own config marks shareable (:share)." },
  'Sharing.CollectionRefused': { status: 403, action: 'fail', event: 'PERMISSION_DENIED', summary: 'The agent refuses this guest collection (unknown to its replica, disabled, outside a shareable root, or its directory is gone or no longer a directory).' },
  'Sharing.ReplicaStale': { status: 503, action: 'retry', event: 'GC_NOT_CONNECTED', summary: "The agent has not yet received control's current sharing rules since it connected; retry shortly." },
  'Sharing.VersionGap': { status: 409, action: 'retry', summary: "A sharing update does not follow the agent's version; control sends a snapshot instead." },

  // Agent registration and the control <-> agent link.
  'SetupKey.Invalid': { status: 400, action: 'fail', summary: 'The setup key is malformed or unknown.' },
  'SetupKey.Used': { status: 409, action: 'fail', summary: 'The setup key was already used; create a new one.' },
  'SetupKey.Expired': { status: 410, action: 'fail', summary: 'The setup key has expired; create a new one.' },
  'SetupKey.CaMismatch': { status: 400, action: 'fatal', summary: "Control's CA certificate does not match the hash in the setup key." },
  'Agent.CertificateRejected': { status: 401, action: 'fatal', summary: 'Control does not accept this agent certificate (not issued by it, or revoked).' },
  'Link.BadMessage': { status: 400, action: 'fail', summary: 'A link message failed schema validation or was not JSON.' },
  'Link.VersionMismatch': { status: 400, action: 'fatal', summary: 'The peer speaks another link protocol version.' },
  'Link.Closed': { status: 502, action: 'retry', event: 'CONNECTION_BROKEN', summary: 'The link closed before the reply arrived.' },

  // Agent <-> agent data connections (src/transfer/channel).
  'Channel.PeerRejected': { status: 403, action: 'retry', bounded: true, event: 'CONNECT_FAILED', summary: 'A data connection was refused: the peer is not the node control named for the session, or did not prove the session secret. A task retries it a few times in a row, then fails.' },
  'Channel.UnknownSession': { status: 404, action: 'retry', bounded: true, event: 'CONNECT_FAILED', summary: 'The listening agent expects no data connections for this session (never opened, already connected, or canceled). A task retries it a few times in a row, then fails.' },
  'Channel.BadHandshake': { status: 400, action: 'retry', bounded: true, event: 'CONNECT_FAILED', summary: 'A data connection handshake frame was malformed or too large, or its stream index or count does not fit the session. A task retries it a few times in a row, then fails.' },
  'Channel.VersionMismatch': { status: 400, action: 'fail', event: 'CONNECT_FAILED', summary: 'The peer agent speaks another data protocol version: both agents of a transfer need the same Ferry release.' },
  'Channel.HandshakeTimeout': { status: 504, action: 'retry', event: 'CONNECT_FAILED', summary: 'A data connection did not complete its handshake in time.' },
  'Channel.Closed': { status: 502, action: 'retry', event: 'CONNECT_FAILED', summary: 'A data connection closed or failed before its handshake completed, or the wait for it was canceled.' },
  'Channel.NoPort': { status: 503, action: 'retry', event: 'CONNECT_FAILED', summary: 'No port in the configured data port range is free.' },

  // Agent <-> agent transfer sessions (src/transfer); details.eventCode carries the Globus event code.
  'Transfer.SourceNotFound': { status: 502, action: 'fail', event: 'FILE_NOT_FOUND', summary: 'A source file or directory does not exist (event FILE_NOT_FOUND).' },
  'Transfer.PermissionDenied': { status: 502, action: 'fail', event: 'PERMISSION_DENIED', summary: 'The host file system refused to read a source or write a destination path (event PERMISSION_DENIED).' },
  'Transfer.WrongType': { status: 502, action: 'fail', event: 'NOT_A_DIRECTORY', summary: 'A path is a directory where a file is needed, or the other way round (events IS_A_DIRECTORY, NOT_A_DIRECTORY).' },
  'Transfer.SourceChanged': { status: 502, action: 'retry', event: 'FILE_SIZE_CHANGED', summary: 'A source file changed (size, mtime or content) while it was being sent (event FILE_SIZE_CHANGED or FILE_CHANGED); the task retries it.' },
  'Transfer.ChecksumMismatch': { status: 502, action: 'retry', event: 'VERIFY_CHECKSUM', summary: 'Data kept failing checksum verification after the allowed re-sends (event VERIFY_CHECKSUM).' },
  'Transfer.ChunkMacMismatch': { status: 502, action: 'retry', bounded: true, event: 'VERIFY_CHECKSUM', summary: 'A frame on a clear-text data stream (encrypt_data false) failed its keyed MAC: altered on the way. A CHUNK is asked for again and never written; a damaged frame whose content cannot be re-asked for ends the attempt, and the task retries it a few times in a row.' },
  'Transfer.NoSpace': { status: 502, action: 'retry', event: 'NO_SPACE_LEFT', summary: 'The destination file system is full (event NO_SPACE_LEFT).' },
  'Transfer.QuotaExceeded': { status: 502, action: 'retry', event: 'QUOTA_EXCEEDED', summary: 'A disk quota on the destination is exhausted (event QUOTA_EXCEEDED).' },
  'Transfer.ConnectionLost': { status: 502, action: 'retry', event: 'CONNECTION_BROKEN', summary: 'A connection to the peer agent closed or failed mid-session (event CONNECTION_BROKEN).' },
  'Transfer.PeerProtocol': { status: 502, action: 'retry', bounded: true, event: 'ENDPOINT_ERROR', summary: 'The peer agent sent a malformed or unexpected session frame (event ENDPOINT_ERROR); a task retries it a few times in a row, then fails.' },
  'Transfer.Canceled': { status: 409, action: 'fail', event: 'CANCELED', summary: 'The transfer session was canceled (event CANCELED).' },
  'Transfer.AgentStopping': { status: 503, action: 'retry', event: 'GC_NOT_CONNECTED', summary: 'An agent of the session is shutting down; it checkpointed and the task resumes when it is back (event GC_NOT_CONNECTED).' },

  // Local configuration and state.
  'Config.Invalid': { status: 500, action: 'fatal', summary: 'A configuration file has an unknown key or a bad value.' },
  'Config.NotFound': { status: 500, action: 'fatal', summary: 'A configuration file or data directory is missing.' },
  'Pki.Invalid': { status: 400, action: 'fail', summary: 'A certificate, key or CSR could not be parsed or verified.' },
  'Store.MigrationFailed': { status: 500, action: 'fatal', summary: 'A database migration failed; the database was left unchanged.' },
  'Store.Unavailable': { status: 500, action: 'fatal', summary: 'A state database could not be opened (permissions, disk, or a damaged file).' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);
}

/** The Globus event code a task reports for this error code (catalog `event`, else DEFAULT_EVENT_CODE). */
export function eventCodeOfCode(code: ErrorCode): string {
  const entry: CatalogEntry = ERROR_CATALOG[code];
  return entry.event ?? DEFAULT_EVENT_CODE;
}

/** Whether a task retries this code only a bounded number of times in a row (catalog `bounded`). */
export function isBoundedRetry(code: ErrorCode): boolean {
  const entry: CatalogEntry = ERROR_CATALOG[code];
  return entry.action === 'retry' && entry.bounded === true;
}

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly action: ErrorAction;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    const entry: CatalogEntry = ERROR_CATALOG[code];
    super(message ?? entry.summary, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.status = entry.status;
    this.action = entry.action;
    this.details = options?.details;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isFerryError(err: unknown): err is FerryError {
  return err instanceof FerryError;
}

/** Rebuild an error received over the link; an unknown code becomes InternalError. */
export function errorFromWire(wire: { code: string; message: string }): FerryError {
  return isErrorCode(wire.code) ? new FerryError(wire.code, wire.message) : new FerryError('InternalError', `${wire.code}: ${wire.message}`);
}

/** Errors that mean a bug in our code, never a runtime condition: they must not be swallowed. */
export function isProgrammerError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError || err instanceof RangeError ||
    (err instanceof Error && err.name === 'AssertionError');
}

/**
 * For fire-and-forget promises: runtime failures are handed to `onError`, programmer errors are
 * re-thrown on the next tick so they crash loudly instead of vanishing (mafintosh safety-catch).
 */
export function safetyCatch(onError: (err: unknown) => void): (err: unknown) => void {
  return (err: unknown) => {
    if (isProgrammerError(err)) {
      process.nextTick(() => { throw err; });
      return;
    }
    onError(err);
  };
}
