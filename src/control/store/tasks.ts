import { newId } from '../../common/ids.js';
import type { FilterRule, FinishedFile, SessionStats, TransferItem, TransferOptions } from '../../protocol/index.js';
import { cachedStatement, ownerMatch, type Db, type OwnerIds } from './db.js';

/**
 * Transfer and delete tasks (Globus task documents), their events, the files they finished
 * and the submission ids that make submitting idempotent. Multi-row writes run in one
 * transaction each; options, items and counters are JSON columns because nothing queries
 * inside them.
 */

export type TaskType = 'TRANSFER' | 'DELETE';
export type TaskStatus = 'ACTIVE' | 'INACTIVE' | 'SUCCEEDED' | 'FAILED';
export const TASK_TYPES: readonly TaskType[] = ['TRANSFER', 'DELETE'];
export const TASK_STATUSES: readonly TaskStatus[] = ['ACTIVE', 'INACTIVE', 'SUCCEEDED', 'FAILED'];

export interface TransferTaskOptions {
  /** Exactly what goes into session.open. */
  session: TransferOptions;
  encryptData: boolean;
  recursiveSymlinks: string;
  /** In the Globus shape the task document echoes; sent to both agents as SessionSpec.filterRules. */
  filterRules: StoredFilterRule[] | null;
  /** The submitter named no parallelism: the session may add streams on a loss-limited path (tasks/parallelism.ts). Absent in older rows: fixed. */
  adaptiveParallelism?: boolean;
}
export type StoredFilterRule = FilterRule & { DATA_TYPE: 'filter_rule' };

export interface DeleteTaskOptions { recursive: boolean; ignoreMissing: boolean; interpretGlobs: boolean }
export interface DeleteTaskItem { path: string }
export interface FatalError { code: string; description: string }
/** The session a task has open on its agents. */
export interface OpenSession { sessionId: string; sourceNode: string; destinationNode: string }

interface TaskCommon {
  id: string;
  ownerId: string;
  status: TaskStatus;
  label: string | null;
  submissionId: string;
  /** For DELETE: the endpoint deleted from (Globus reports it as the source). */
  sourceEndpointId: string;
  destinationEndpointId: string | null;
  requestTime: number;
  completionTime: number | null;
  deadline: number;
  fatalError: FatalError | null;
  niceStatus: string | null;
  niceStatusDescription: string | null;
  /** Counters of finished attempts; `statsCur` those of the running session. */
  statsBase: SessionStats;
  statsCur: SessionStats | null;
  attempts: number;
  /** Consecutive failed attempts, for the backoff. */
  failures: number;
  itemsDone: number;
  /** Do not start a new attempt before this time (ms). */
  retryAt: number;
  session: OpenSession | null;
}
export type TransferTaskRecord = TaskCommon & { type: 'TRANSFER'; options: TransferTaskOptions; items: TransferItem[] };
export type DeleteTaskRecord = TaskCommon & { type: 'DELETE'; options: DeleteTaskOptions; items: DeleteTaskItem[] };
export type TaskRecord = TransferTaskRecord | DeleteTaskRecord;

type Spec<R> = R extends TaskRecord ? Pick<R, 'type' | 'options' | 'items'> : never;
export type NewTask = Spec<TaskRecord> & Pick<TaskCommon, 'ownerId' | 'submissionId' | 'label' | 'deadline' | 'sourceEndpointId' | 'destinationEndpointId'>;

export type TaskSummary = Pick<TaskRecord, 'id' | 'type' | 'deadline' | 'retryAt' | 'sourceEndpointId' | 'destinationEndpointId' | 'niceStatus'>;

export type TaskPatch = Partial<Pick<TaskCommon, 'status' | 'label' | 'completionTime' | 'deadline' | 'fatalError' | 'niceStatus' |
  'niceStatusDescription' | 'statsBase' | 'statsCur' | 'attempts' | 'failures' | 'itemsDone' | 'retryAt' | 'session'>>;

export interface TaskEventRecord { id: number; time: number; code: string; isError: boolean; description: string; details: string }
export type NewTaskEvent = Omit<TaskEventRecord, 'id'>;

export interface SuccessfulTransferRecord {
  id: number; sourcePath: string; destinationPath: string; size: number; checksum: string | null; checksumAlgorithm: string | null;
}

export const TASK_ORDER_FIELDS = {
  task_id: 'id', type: 'type', status: 'status', label: 'label', request_time: 'request_time',
  completion_time: 'completion_time', deadline: 'deadline',
} as const;
export type TaskOrderField = keyof typeof TASK_ORDER_FIELDS;

export interface TaskListQuery {
  /** The owner, or every identity of an account (tasks of any of them are listed). */
  ownerId: OwnerIds;
  taskIds?: string[] | undefined;
  statuses?: TaskStatus[] | undefined;
  types?: TaskType[] | undefined;
  labels?: string[] | undefined;
  /** Case-insensitive substring of the label. */
  labelLike?: string | undefined;
  /** Labels to leave out (tasks without a label stay). */
  labelsNot?: string[] | undefined;
  /** Case-insensitive substring the label must not contain (tasks without a label stay). */
  labelNotLike?: string | undefined;
  requestTime?: { from?: number | undefined; to?: number | undefined } | undefined;
  completionTime?: { from?: number | undefined; to?: number | undefined } | undefined;
  orderBy: Array<{ field: TaskOrderField; desc: boolean }>;
  limit: number;
  offset: number;
}

export const ZERO_STATS: SessionStats = Object.freeze({
  files: 0, directories: 0, symlinks: 0, filesTransferred: 0, filesSkipped: 0, bytesTransferred: 0, bytesChecksummed: 0, bytesExpected: 0, faults: 0,
});

interface Row {
  id: string; owner_id: string; type: TaskType; status: TaskStatus; label: string | null; submission_id: string;
  source_endpoint_id: string; destination_endpoint_id: string | null; options: string; items: string; request_time: number;
  completion_time: number | null; deadline: number; fatal_error: string | null; nice_status: string | null;
  nice_status_description: string | null; stats_base: string; stats_cur: string | null; attempts: number; failures: number;
  items_done: number; retry_at: number; session: string | null;
}

const parse = <T>(s: string | null): T | null => (s === null ? null : JSON.parse(s) as T);
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

const toRecord = (r: Row): TaskRecord => ({
  id: r.id, ownerId: r.owner_id, type: r.type, status: r.status, label: r.label, submissionId: r.submission_id,
  sourceEndpointId: r.source_endpoint_id, destinationEndpointId: r.destination_endpoint_id,
  options: JSON.parse(r.options), items: JSON.parse(r.items),
  requestTime: r.request_time, completionTime: r.completion_time, deadline: r.deadline,
  fatalError: parse<FatalError>(r.fatal_error), niceStatus: r.nice_status, niceStatusDescription: r.nice_status_description,
  statsBase: JSON.parse(r.stats_base) as SessionStats, statsCur: parse<SessionStats>(r.stats_cur),
  attempts: r.attempts, failures: r.failures, itemsDone: r.items_done, retryAt: r.retry_at, session: parse<OpenSession>(r.session),
}) as TaskRecord;

/** A task's events that record a source path skipped under skip_source_errors (first parameter: the task id). */
const SKIPPED_EVENTS = "task_id = ? AND is_error = 1 AND json_valid(details) AND json_extract(details, '$.skipped') = 1";

/** Patch field -> column, and how its value is stored. */
const PATCH_COLUMNS: { [K in keyof Required<TaskPatch>]: [string, (v: TaskPatch[K]) => unknown] } = {
  status: ['status', (v) => v], label: ['label', (v) => v], completionTime: ['completion_time', (v) => v],
  deadline: ['deadline', (v) => v], fatalError: ['fatal_error', json], niceStatus: ['nice_status', (v) => v],
  niceStatusDescription: ['nice_status_description', (v) => v], statsBase: ['stats_base', json], statsCur: ['stats_cur', json],
  attempts: ['attempts', (v) => v], failures: ['failures', (v) => v], itemsDone: ['items_done', (v) => v],
  retryAt: ['retry_at', (v) => v], session: ['session', json],
};

export class TaskRepo {
  constructor(private readonly db: Db) {}

  /**
   * Create a task, unless this owner already used the submission id: then the original task
   * comes back with `duplicate: true` and nothing is written.
   */
  submit(input: NewTask, now = Date.now()): { record: TaskRecord; duplicate: boolean } {
    return this.db.transaction(() => {
      const seen = this.bySubmission(input.ownerId, input.submissionId);
      if (seen) return { record: seen, duplicate: true };
      const id = newId();
      this.db.prepare(`INSERT INTO tasks (id, owner_id, type, status, label, submission_id, source_endpoint_id, destination_endpoint_id,
          options, items, request_time, deadline, nice_status, nice_status_description, stats_base, retry_at)
          VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, ?, ?, ?, ?, ?, 'Queued', 'Queued', ?, ?)`)
        .run(id, input.ownerId, input.type, input.label, input.submissionId, input.sourceEndpointId, input.destinationEndpointId,
          JSON.stringify(input.options), JSON.stringify(input.items), now, input.deadline, JSON.stringify(ZERO_STATS), now);
      this.db.prepare('INSERT INTO submission_ids (owner_id, submission_id, task_id, created_at) VALUES (?, ?, ?, ?)')
        .run(input.ownerId, input.submissionId, id, now);
      return { record: this.get(id)!, duplicate: false };
    }).immediate();
  }

  /** The task this owner (or any identity of this account) already submitted with this submission id, if any. */
  bySubmission(ownerId: OwnerIds, submissionId: string): TaskRecord | undefined {
    const m = ownerMatch('owner_id', ownerId);
    const seen = cachedStatement(this.db, `SELECT task_id FROM submission_ids WHERE ${m.sql} AND submission_id = ? ORDER BY created_at, task_id LIMIT 1`)
      .get(...m.params, submissionId) as { task_id: string } | undefined;
    return seen && this.get(seen.task_id);
  }

  get(id: string): TaskRecord | undefined {
    const row = cachedStatement(this.db, 'SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /** Tasks still to be driven (ACTIVE), oldest first. */
  active(): TaskRecord[] {
    return (this.db.prepare("SELECT * FROM tasks WHERE status = 'ACTIVE' ORDER BY request_time, id").all() as Row[]).map(toRecord);
  }

  /** The scheduling fields of ACTIVE tasks, without parsing their (possibly large) items. */
  activeSummaries(): TaskSummary[] {
    return (cachedStatement(this.db, `SELECT id, type, deadline, retry_at, source_endpoint_id, destination_endpoint_id, nice_status
        FROM tasks WHERE status = 'ACTIVE' ORDER BY request_time, id`).all() as Array<{
      id: string; type: TaskType; deadline: number; retry_at: number; source_endpoint_id: string; destination_endpoint_id: string | null; nice_status: string | null;
    }>).map((r) => ({
      id: r.id, type: r.type, deadline: r.deadline, retryAt: r.retry_at, sourceEndpointId: r.source_endpoint_id,
      destinationEndpointId: r.destination_endpoint_id, niceStatus: r.nice_status,
    }));
  }

  activeForOwner(ownerId: OwnerIds, type: TaskType): TaskRecord[] {
    const m = ownerMatch('owner_id', ownerId);
    return (cachedStatement(this.db, `SELECT * FROM tasks WHERE ${m.sql} AND type = ? AND status = 'ACTIVE'`).all(...m.params, type) as Row[]).map(toRecord);
  }

  /**
   * Endpoints the account's tasks used as source or destination, most recently used first
   * (endpoint_search scopes recently-used and, with ACTIVE/INACTIVE, in-use).
   */
  endpointsUsed(ownerId: OwnerIds, statuses?: readonly TaskStatus[], limit = 1000): string[] {
    const m = ownerMatch('owner_id', ownerId);
    const st = statuses ? ` AND status IN (${statuses.map(() => '?').join(', ')})` : '';
    const rows = this.db.prepare(`SELECT endpoint_id, MAX(request_time) AS last FROM (
        SELECT source_endpoint_id AS endpoint_id, request_time FROM tasks WHERE ${m.sql}${st}
        UNION ALL
        SELECT destination_endpoint_id, request_time FROM tasks WHERE ${m.sql}${st} AND destination_endpoint_id IS NOT NULL
      ) GROUP BY endpoint_id ORDER BY last DESC, endpoint_id LIMIT ?`)
      .all(...m.params, ...(statuses ?? []), ...m.params, ...(statuses ?? []), limit) as { endpoint_id: string }[];
    return rows.map((r) => r.endpoint_id);
  }

  list(q: TaskListQuery): { records: TaskRecord[]; total: number } {
    const owner = ownerMatch('owner_id', q.ownerId);
    const where = [owner.sql];
    const params: unknown[] = [...owner.params];
    const anyOf = (column: string, values: readonly unknown[] | undefined) => {
      if (values === undefined) return;
      where.push(values.length === 0 ? '0' : `${column} IN (${values.map(() => '?').join(', ')})`);
      params.push(...values);
    };
    const range = (column: string, r: { from?: number | undefined; to?: number | undefined } | undefined) => {
      if (r?.from !== undefined) { where.push(`${column} >= ?`); params.push(r.from); }
      if (r?.to !== undefined) { where.push(`${column} <= ?`); params.push(r.to); }
    };
    anyOf('id', q.taskIds);
    anyOf('status', q.statuses);
    anyOf('type', q.types);
    anyOf('label', q.labels);
    if (q.labelLike !== undefined) {
      where.push("label LIKE ? ESCAPE '\\'");
      params.push(`%${q.labelLike.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    if (q.labelsNot !== undefined && q.labelsNot.length > 0) {
      where.push(`(label IS NULL OR label NOT IN (${q.labelsNot.map(() => '?').join(', ')}))`);
      params.push(...q.labelsNot);
    }
    if (q.labelNotLike !== undefined) {
      where.push("(label IS NULL OR label NOT LIKE ? ESCAPE '\\')");
      params.push(`%${q.labelNotLike.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    range('request_time', q.requestTime);
    range('completion_time', q.completionTime);
    const clause = where.join(' AND ');
    const order = [...q.orderBy.map((o) => `${TASK_ORDER_FIELDS[o.field]} ${o.desc ? 'DESC' : 'ASC'}`), 'request_time DESC', 'id'].join(', ');
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE ${clause}`).get(...params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM tasks WHERE ${clause} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...params, q.limit, q.offset) as Row[];
    return { records: rows.map(toRecord), total };
  }

  /** Change a task and add events to it, in one transaction. */
  /**
   * A transfer asked for encrypt_data false but an attempt had to run encrypted (an endpoint
   * or agent forces it): from then on its document says encrypt_data true, what was used.
   */
  markEncrypted(id: string): void {
    cachedStatement(this.db, "UPDATE tasks SET options = json_set(options, '$.encryptData', json('true')) WHERE id = ? AND type = 'TRANSFER'").run(id);
  }

  apply(id: string, patch: TaskPatch, events: readonly NewTaskEvent[] = []): void {
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [key, value] of Object.entries(patch) as Array<[keyof TaskPatch, unknown]>) {
      if (value === undefined) continue;
      const [column, encode] = PATCH_COLUMNS[key] as [string, (v: unknown) => unknown];
      sets.push(`${column} = ?`);
      params.push(encode(value));
    }
    this.db.transaction(() => {
      if (sets.length > 0) cachedStatement(this.db, `UPDATE tasks SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
      this.insertEvents(id, events);
    }).immediate();
  }

  addEvents(taskId: string, events: readonly NewTaskEvent[]): void {
    this.db.transaction(() => this.insertEvents(taskId, events)).immediate();
  }

  private insertEvents(taskId: string, events: readonly NewTaskEvent[]): void {
    if (events.length === 0) return;
    const ins = cachedStatement(this.db, 'INSERT INTO task_events (task_id, time, code, is_error, description, details) VALUES (?, ?, ?, ?, ?, ?)');
    for (const e of events) ins.run(taskId, e.time, e.code, e.isError ? 1 : 0, e.description, e.details);
  }

  /** Newest first, as Globus lists them. */
  listEvents(taskId: string, q: { isError?: boolean | undefined; codes?: string[] | undefined; limit: number; offset: number }): { records: TaskEventRecord[]; total: number } {
    const where = ['task_id = ?'];
    const params: unknown[] = [taskId];
    if (q.isError !== undefined) { where.push('is_error = ?'); params.push(q.isError ? 1 : 0); }
    if (q.codes !== undefined) { where.push(`code IN (${q.codes.map(() => '?').join(', ') || "''"})`); params.push(...q.codes); }
    const clause = where.join(' AND ');
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM task_events WHERE ${clause}`).get(...params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM task_events WHERE ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...params, q.limit, q.offset) as Array<{
      id: number; time: number; code: string; is_error: number; description: string; details: string;
    }>;
    return { records: rows.map((r) => ({ id: r.id, time: r.time, code: r.code, isError: r.is_error === 1, description: r.description, details: r.details })), total };
  }

  /** How many source paths were skipped with skip_source_errors (each counted once, however often retried). */
  countSkipped(taskId: string): number {
    const row = cachedStatement(this.db, `SELECT COUNT(DISTINCT json_extract(details, '$.source_path')) AS n FROM task_events
      WHERE ${SKIPPED_EVENTS}`).get(taskId) as { n: number };
    return row.n;
  }

  /**
   * Source paths skipped under skip_source_errors: the agents' events marked `skipped` (one
   * per path, the first time it was seen, since every retry walks the tree again), marker paged.
   */
  listSkipped(taskId: string, marker: number, limit: number): { records: TaskEventRecord[]; nextMarker: number | null } {
    const rows = cachedStatement(this.db, `SELECT MIN(id) AS id, MIN(time) AS time, code, is_error, description, details FROM task_events
      WHERE ${SKIPPED_EVENTS}
      GROUP BY json_extract(details, '$.source_path') HAVING MIN(id) > ? ORDER BY MIN(id) LIMIT ?`).all(taskId, marker, limit + 1) as Array<{
      id: number; time: number; code: string; is_error: number; description: string; details: string;
    }>;
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return {
      records: page.map((r) => ({ id: r.id, time: r.time, code: r.code, isError: true, description: r.description, details: r.details })),
      nextMarker: more ? page.at(-1)!.id : null,
    };
  }

  /** Record files the destination made durable; a file already listed for the task is kept once. */
  addSuccessful(taskId: string, files: readonly FinishedFile[]): void {
    if (files.length === 0) return;
    const ins = cachedStatement(this.db, `INSERT OR IGNORE INTO successful_transfers (task_id, source_path, destination_path, size, checksum, checksum_algorithm)
      VALUES (?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const f of files) ins.run(taskId, f.sourcePath, f.destinationPath, f.size, f.checksum === '' ? null : f.checksum, f.checksumAlgorithm);
    })();
  }

  /** Marker paging: entries after `marker` (an entry id); `nextMarker` is null on the last page. */
  listSuccessful(taskId: string, marker: number, limit: number): { records: SuccessfulTransferRecord[]; nextMarker: number | null } {
    const rows = this.db.prepare('SELECT * FROM successful_transfers WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?').all(taskId, marker, limit + 1) as Array<{
      id: number; source_path: string; destination_path: string; size: number; checksum: string | null; checksum_algorithm: string | null;
    }>;
    const page = rows.slice(0, limit).map((r) => ({
      id: r.id, sourcePath: r.source_path, destinationPath: r.destination_path, size: r.size, checksum: r.checksum, checksumAlgorithm: r.checksum_algorithm,
    }));
    return { records: page, nextMarker: rows.length > limit ? page.at(-1)!.id : null };
  }
}
