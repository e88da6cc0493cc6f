import type { EndpointRecord, IdentityRecord } from '../store/index.js';
import type { SuccessfulTransferRecord, TaskEventRecord, TaskRecord } from '../store/tasks.js';
import { subtasks, taskStats } from './stats.js';

/** Globus task timestamps: `2021-09-02T18:04:47+00:00` (no fraction, explicit offset). */
export function globusTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
const maybeTime = (ms: number | null): string | null => (ms === null ? null : globusTime(ms));

export interface TaskView {
  record: TaskRecord;
  owner: IdentityRecord | undefined;
  source: EndpointRecord | undefined;
  destination: EndpointRecord | undefined;
  now: number;
  /** Source paths skipped with skip_source_errors (subtasks_skipped_errors). */
  skippedErrors: number;
}

/** The Globus `task` document (globus-api.md §1.3): every field a client may read. */
export function taskDocument(v: TaskView): Record<string, unknown> {
  const t = v.record;
  const s = taskStats(t);
  const transfer = t.type === 'TRANSFER' ? t.options : null;
  const finished = t.status === 'SUCCEEDED' || t.status === 'FAILED';
  const elapsedS = Math.max(1, ((t.completionTime ?? v.now) - t.requestTime) / 1000);
  const niceOk = t.niceStatus === 'OK' || t.niceStatus === 'Queued';
  return {
    DATA_TYPE: 'task',
    task_id: t.id,
    type: t.type,
    status: t.status,
    label: t.label,
    owner_id: t.ownerId,
    username: v.owner?.username ?? t.ownerId,
    command: 'API 0.10',
    request_time: globusTime(t.requestTime),
    completion_time: maybeTime(t.completionTime),
    deadline: globusTime(t.deadline),
    source_endpoint: t.sourceEndpointId,
    source_endpoint_id: t.sourceEndpointId,
    source_endpoint_display_name: v.source?.displayName ?? null,
    destination_endpoint: t.destinationEndpointId,
    destination_endpoint_id: t.destinationEndpointId,
    destination_endpoint_display_name: v.destination?.displayName ?? null,
    sync_level: transfer ? transfer.session.syncLevel : null,
    encrypt_data: transfer ? transfer.encryptData : false,
    verify_checksum: transfer ? transfer.session.verifyChecksum : false,
    delete_destination_extra: transfer ? transfer.session.deleteDestinationExtra : false,
    recursive_symlinks: transfer ? transfer.recursiveSymlinks : null,
    preserve_timestamp: transfer ? transfer.session.preserveTimestamp : false,
    skip_source_errors: transfer ? transfer.session.skipSourceErrors : false,
    fail_on_quota_errors: transfer ? transfer.session.failOnQuotaErrors : false,
    filter_rules: transfer ? transfer.filterRules : null,
    // Ferry extensions, echoed so clients can see what ran.
    checksum_algorithm: transfer ? transfer.session.checksumAlgorithm : null,
    // What ran: more than asked when the source put spare streams to work on a loss-limited path.
    parallelism: transfer ? Math.max(transfer.session.parallelism, s.streams ?? 0) : null,
    faults: s.faults,
    files: s.files,
    directories: s.directories,
    symlinks: s.symlinks,
    files_skipped: s.filesSkipped,
    files_transferred: s.filesTransferred,
    ...subtasks(t, s, v.skippedErrors),
    bytes_transferred: s.bytesTransferred,
    bytes_checksummed: s.bytesChecksummed,
    // Ferry extension: total bytes the destination still needed when the session planned it,
    // so clients can show a percentage and ETA; null until the first progress report.
    bytes_expected: s.bytesExpected > 0 || s.files > 0 ? s.bytesExpected : null,
    effective_bytes_per_second: Math.floor(s.bytesTransferred / elapsedS),
    fatal_error: t.fatalError,
    nice_status: finished ? null : t.niceStatus,
    nice_status_details: null,
    nice_status_short_description: finished ? null : t.niceStatusDescription,
    nice_status_expires_in: finished ? null : -1,
    is_ok: finished ? null : niceOk,
    is_paused: false,
    canceled_by_admin: null,
    canceled_by_admin_message: null,
    history_deleted: false,
    source_base_path: null,
    destination_base_path: null,
    key: finished ? `complete,${new Date(t.completionTime ?? t.requestTime).toISOString().replace('Z', '')}` : `active,${new Date(t.requestTime).toISOString().replace('Z', '')}`,
  };
}

export function eventDocument(e: TaskEventRecord): Record<string, unknown> {
  return { DATA_TYPE: 'event', code: e.code, is_error: e.isError, description: e.description, details: e.details, time: globusTime(e.time) };
}

/** A skipped_error document from an agent's `skipped` event (its details JSON names the paths). */
export function skippedErrorDocument(e: TaskEventRecord): Record<string, unknown> {
  let d: Record<string, unknown> = {};
  try {
    d = JSON.parse(e.details) as Record<string, unknown>;
  } catch {
    // listSkipped only returns valid JSON; keep the document well-formed regardless.
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    DATA_TYPE: 'skipped_error', error_code: e.code, error_details: str(d['message']) ?? e.description, error_time: globusTime(e.time),
    source_path: str(d['source_path']), destination_path: str(d['destination_path']), is_directory: d['is_directory'] === true,
    is_symlink: false, is_delete_destination_extra: false, external_checksum: null, checksum_algorithm: null,
  };
}

export function successfulTransferDocument(f: SuccessfulTransferRecord): Record<string, unknown> {
  return {
    DATA_TYPE: 'successful_transfer', source_path: f.sourcePath, destination_path: f.destinationPath,
    size: f.size, checksum: f.checksum, checksum_algorithm: f.checksumAlgorithm, dynamic: false,
  };
}

/** Keep only the requested fields (Globus `fields=a,b`); DATA_TYPE always stays. */
export function pickFields(doc: Record<string, unknown>, fields: readonly string[] | undefined): Record<string, unknown> {
  if (fields === undefined) return doc;
  const out: Record<string, unknown> = { DATA_TYPE: doc['DATA_TYPE'] };
  for (const f of fields) if (Object.hasOwn(doc, f)) out[f] = doc[f];
  return out;
}
