import { FerryError } from '../common/errors.js';
import type { ApiClient, QueryValue, ResultDocument } from './api-client.js';

/**
 * Typed calls for task submission and tasks (globus-api.md §1.2, §1.3) on top of ApiClient.
 * Field names are the Globus ones; only the fields the CLI reads are spelled out, the rest
 * pass through untouched so `--format json` shows the document exactly as control sent it.
 */

export type TaskStatus = 'ACTIVE' | 'INACTIVE' | 'SUCCEEDED' | 'FAILED';
export type TaskType = 'TRANSFER' | 'DELETE';

/** Globus sync_level numbering (globus-api.md §2.1). */
export const SYNC_LEVELS = { exists: 0, size: 1, mtime: 2, checksum: 3 } as const;
export type SyncLevelName = keyof typeof SYNC_LEVELS;

export interface TransferItemDoc {
  DATA_TYPE: 'transfer_item';
  source_path: string;
  destination_path: string;
  /** Omitted: control detects whether the source is a file or a directory. */
  recursive?: boolean;
}

/** The body of POST /v0.10/transfer, minus DATA_TYPE and submission_id (added on submit). */
export interface TransferSubmission {
  source_endpoint: string;
  destination_endpoint: string;
  DATA: TransferItemDoc[];
  label?: string;
  sync_level?: 0 | 1 | 2 | 3;
  verify_checksum?: boolean;
  /** Absent: Ferry encrypts (Globus's default is false). */
  encrypt_data?: boolean;
  preserve_timestamp?: boolean;
  delete_destination_extra?: boolean;
  /** Data streams per session (Globus's hidden "parallelism" performance option). */
  perf_p?: number;
  filter_rules?: FilterRuleDoc[];
}

/** One Globus filter rule; the first rule whose glob matches a name found while recursing decides. */
export interface FilterRuleDoc { DATA_TYPE: 'filter_rule'; method: 'include' | 'exclude'; name: string }

export interface DeleteItemDoc { DATA_TYPE: 'delete_item'; path: string }

/** The body of POST /v0.10/delete, minus DATA_TYPE and submission_id. */
export interface DeleteSubmission {
  endpoint: string;
  recursive: boolean;
  ignore_missing?: boolean;
  label?: string;
  DATA: DeleteItemDoc[];
}

export interface SubmissionResult {
  DATA_TYPE: 'transfer_result' | 'delete_result';
  code: 'Accepted' | 'Duplicate' | string;
  message: string;
  task_id: string;
  submission_id: string;
  request_id?: string;
  [field: string]: unknown;
}

export interface TaskDocument {
  DATA_TYPE: 'task';
  task_id: string;
  type: TaskType | string;
  status: TaskStatus | string;
  label?: string | null;
  nice_status?: string | null;
  request_time?: string | null;
  completion_time?: string | null;
  deadline?: string | null;
  source_endpoint_id?: string | null;
  source_endpoint_display_name?: string | null;
  destination_endpoint_id?: string | null;
  destination_endpoint_display_name?: string | null;
  files?: number;
  directories?: number;
  files_transferred?: number;
  files_skipped?: number;
  bytes_transferred?: number;
  bytes_checksummed?: number;
  /**
   * Ferry extension (absent from Globus): the bytes this task will move, null until the
   * source has walked its tree. With it the progress display can show a percentage and ETA.
   */
  bytes_expected?: number | null;
  effective_bytes_per_second?: number;
  faults?: number;
  sync_level?: number | null;
  verify_checksum?: boolean;
  encrypt_data?: boolean;
  fatal_error?: { code: string; description: string } | null;
  [field: string]: unknown;
}

export interface TaskListDocument {
  DATA_TYPE: 'task_list';
  DATA: TaskDocument[];
  length?: number;
  limit?: number;
  offset?: number;
  total?: number;
  has_next_page?: boolean;
}

export interface EventDocument {
  DATA_TYPE: 'event';
  code: string;
  is_error: boolean;
  description: string;
  details: string;
  time: string;
}

export interface EventListDocument {
  DATA_TYPE: 'event_list';
  DATA: EventDocument[];
  length?: number;
  limit?: number;
  offset?: number;
  total?: number;
  has_next_page?: boolean;
}

export interface TaskListQuery { limit?: number; offset?: number; filter?: string; orderby?: string }
export interface EventListQuery { limit?: number; offset?: number; filter?: string }

/** The largest page the task list answers with (Globus: 1000). */
export const MAX_TASK_LIST_LIMIT = 1000;

export function isTaskDone(task: Pick<TaskDocument, 'status'>): boolean {
  return task.status === 'SUCCEEDED' || task.status === 'FAILED';
}

export class TaskClient {
  constructor(readonly api: ApiClient) {}

  /** A fresh submission id; re-posting a document with it answers Duplicate, never a second task. */
  async submissionId(): Promise<string> {
    const doc = await expectType<{ value?: unknown }>('submission_id', this.api.get('/v0.10/submission_id'));
    if (typeof doc.value !== 'string' || doc.value === '') {
      throw new FerryError('InternalError', 'control answered GET /v0.10/submission_id without a value');
    }
    return doc.value;
  }

  submitTransfer(submissionId: string, doc: TransferSubmission): Promise<SubmissionResult> {
    const body = { DATA_TYPE: 'transfer', submission_id: submissionId, ...doc };
    return expectResult('transfer_result', this.api.post('/v0.10/transfer', { body }));
  }

  submitDelete(submissionId: string, doc: DeleteSubmission): Promise<SubmissionResult> {
    const body = { DATA_TYPE: 'delete', submission_id: submissionId, ...doc };
    return expectResult('delete_result', this.api.post('/v0.10/delete', { body }));
  }

  get(taskId: string): Promise<TaskDocument> {
    return expectType('task', this.api.get(`/v0.10/task/${encodeURIComponent(taskId)}`));
  }

  list(query: TaskListQuery = {}): Promise<TaskListDocument> {
    return expectType('task_list', this.api.get('/v0.10/task_list', { query: compact(query) }));
  }

  /** Answers code 'Canceled', or 'TaskComplete' when the task had already finished. */
  cancel(taskId: string): Promise<ResultDocument> {
    return expectType('result', this.api.post(`/v0.10/task/${encodeURIComponent(taskId)}/cancel`));
  }

  events(taskId: string, query: EventListQuery = {}): Promise<EventListDocument> {
    return expectType('event_list', this.api.get(`/v0.10/task/${encodeURIComponent(taskId)}/event_list`, { query: compact(query) }));
  }
}

function compact(query: object): Record<string, QueryValue> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined)) as Record<string, QueryValue>;
}

async function expectType<T>(dataType: string, pending: Promise<unknown>): Promise<T> {
  const doc = await pending;
  const got = doc !== null && typeof doc === 'object' ? (doc as { DATA_TYPE?: unknown }).DATA_TYPE : undefined;
  if (got !== dataType) {
    throw new FerryError('InternalError', `control answered with DATA_TYPE ${JSON.stringify(got)} where '${dataType}' was expected`);
  }
  return doc as T;
}

async function expectResult(dataType: string, pending: Promise<unknown>): Promise<SubmissionResult> {
  const doc = await expectType<SubmissionResult>(dataType, pending);
  if (typeof doc.task_id !== 'string' || doc.task_id === '') {
    throw new FerryError('InternalError', `control accepted the submission (${String(doc.code)}) but sent no task_id`);
  }
  return doc;
}
