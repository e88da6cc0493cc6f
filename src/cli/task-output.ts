import { fields, safeText, table } from './output.js';
import { formatBytes, formatDuration, formatRate } from './progress.js';
import { SYNC_LEVELS, type EventDocument, type EventListDocument, type SubmissionResult, type TaskDocument, type TaskListDocument } from './task-client.js';

/**
 * Text rendering of task documents for `ferry transfer | rm | task …` (pure: document in,
 * string out). `--format json` bypasses all of this and prints control's document.
 */

/** Globus task times look like 2021-09-02T18:04:47+00:00; show 2021-09-02 18:04:47 (UTC). */
export function taskTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : safeText(iso);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function bytesWithRaw(v: unknown): string | undefined {
  const n = num(v);
  return n === undefined ? undefined : n < 1024 ? `${n} B` : `${formatBytes(n)} (${n} bytes)`;
}

function endpointText(name: unknown, id: unknown): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  return typeof name === 'string' && name !== '' ? `${name} (${id})` : id;
}

const SYNC_NAMES = Object.fromEntries(Object.entries(SYNC_LEVELS).map(([k, v]) => [v, k])) as Record<number, string>;

/** The exit summary of `transfer`/`rm`: stdout carries only the task id, so scripts can capture it. */
export function formatSubmitted(result: SubmissionResult): string {
  return `${result.task_id}\n`;
}

/** The human note for stderr after a submission. */
export function submittedNote(result: SubmissionResult, kind: 'transfer' | 'delete'): string {
  const what = result.code === 'Duplicate'
    ? `this submission was already accepted earlier as task ${result.task_id} (no new task was created)`
    : `${kind} task ${result.task_id} accepted`;
  return `ferry: ${safeText(what)}; follow it with: ferry task wait ${result.task_id}\n`;
}

/** `ferry task show`. */
export function formatTask(task: TaskDocument): string {
  const isDelete = task.type === 'DELETE';
  const filesDone = num(task.files_transferred);
  const skipped = num(task.files_skipped);
  const total = num(task.files);
  const filesText = total === undefined ? undefined
    : `${total}` + (filesDone !== undefined ? `, ${filesDone} transferred` : '') + (skipped ? `, ${skipped} skipped` : '');
  const rate = num(task.effective_bytes_per_second);
  const status = task.nice_status && task.nice_status !== 'OK' && task.status !== 'SUCCEEDED' && task.status !== 'FAILED'
    ? `${task.status} (${task.nice_status})` : task.status;
  const fatal = task.fatal_error ? `${task.fatal_error.code}: ${task.fatal_error.description}` : undefined;
  const syncLevel = typeof task.sync_level === 'number' ? `${SYNC_NAMES[task.sync_level] ?? '?'} (${task.sync_level})` : undefined;
  return fields([
    ['Task ID', task.task_id],
    ['Label', task.label],
    ['Type', task.type],
    ['Status', status],
    [isDelete ? 'Endpoint' : 'Source', endpointText(task.source_endpoint_display_name, task.source_endpoint_id)],
    ['Destination', isDelete ? undefined : endpointText(task.destination_endpoint_display_name, task.destination_endpoint_id)],
    ['Request time', task.request_time ? taskTime(task.request_time) : undefined],
    ['Completion time', task.completion_time ? taskTime(task.completion_time) : undefined],
    ['Deadline', task.deadline ? taskTime(task.deadline) : undefined],
    ['Files', filesText],
    ['Directories', num(task.directories)],
    ['Bytes transferred', bytesWithRaw(task.bytes_transferred)],
    ['Bytes expected', bytesWithRaw(task.bytes_expected)],
    ['Rate', rate !== undefined && rate > 0 ? formatRate(rate) : undefined],
    ['Faults', num(task.faults)],
    ['Sync level', syncLevel],
    ['Verify checksum', typeof task.verify_checksum === 'boolean' ? (task.verify_checksum ? 'yes' : 'no') : undefined],
    ['Encrypt data', typeof task.encrypt_data === 'boolean' ? (task.encrypt_data ? 'yes' : 'no') : undefined],
    ['Fatal error', fatal],
  ]);
}

/** `ferry task list`: newest first, as control sorts it. */
export function formatTaskList(list: TaskListDocument): string {
  if (list.DATA.length === 0) return 'No tasks found.\n';
  const rows = [['Task ID', 'Status', 'Type', 'Label', 'Bytes', 'Request Time']];
  for (const t of list.DATA) {
    rows.push([
      t.task_id, String(t.status), String(t.type), safeText(t.label ?? '-') || '-',
      formatBytes(num(t.bytes_transferred) ?? 0), taskTime(t.request_time),
    ]);
  }
  const shown = list.DATA.length;
  const more = typeof list.total === 'number' && list.total > shown
    ? `(${shown} of ${list.total} tasks shown; use --limit for more)\n`
    : list.has_next_page ? '(more tasks exist; use --limit for more)\n' : '';
  return table(rows, [false, false, false, false, true, false]) + more;
}

/** One event's text: its description, then its details with runs of white space folded. */
function eventText(e: EventDocument): string {
  const details = typeof e.details === 'string' ? e.details.replace(/\s+/g, ' ').trim() : '';
  const desc = typeof e.description === 'string' ? e.description : '';
  return safeText(details && details !== desc ? (desc ? `${desc}: ${details}` : details) : desc);
}

/** `ferry task events`: the event list as control orders it (newest first in Globus). */
export function formatEventList(list: EventListDocument): string {
  if (list.DATA.length === 0) return 'No events.\n';
  const rows = [['Time', 'Code', 'Error', 'Details']];
  for (const e of list.DATA) rows.push([taskTime(e.time), safeText(e.code), e.is_error ? 'yes' : 'no', eventText(e)]);
  return table(rows);
}

/** The newest error event of a list, whatever order control sent it in. */
export function lastErrorEvent(list: EventListDocument): EventDocument | undefined {
  let best: EventDocument | undefined;
  for (const e of list.DATA) {
    if (!e.is_error) continue;
    if (best === undefined || Date.parse(e.time) > Date.parse(best.time)) best = e;
  }
  return best;
}

function elapsedSeconds(task: TaskDocument): number | undefined {
  if (!task.request_time || !task.completion_time) return undefined;
  const ms = Date.parse(task.completion_time) - Date.parse(task.request_time);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** The line `task wait` prints when the task has ended. */
export function formatTaskSummary(task: TaskDocument): string {
  const bytes = num(task.bytes_transferred) ?? 0;
  const parts = [formatBytes(bytes)];
  const files = num(task.files);
  if (files !== undefined) {
    const skipped = num(task.files_skipped) ?? 0;
    parts.push(`${files} file${files === 1 ? '' : 's'}` + (skipped > 0 ? ` (${skipped} skipped)` : ''));
  }
  const secs = elapsedSeconds(task);
  let tail = '';
  if (secs !== undefined) {
    tail = ` in ${formatDuration(secs)}`;
    const effective = num(task.effective_bytes_per_second) ?? 0;
    const rate = effective > 0 ? effective : secs > 0 ? bytes / secs : 0;
    if (rate > 0) tail += ` (${formatRate(rate)})`;
  }
  return `Task ${task.task_id} ${task.status}: ${parts.join(', ')}${tail}\n`;
}

/** What went wrong, for stderr: the fatal error and the last error event, when they add something. */
export function formatFailure(task: TaskDocument, lastError: EventDocument | undefined): string {
  const lines = [`ferry: task ${task.task_id} failed`];
  if (task.fatal_error) lines[0] += `: ${safeText(task.fatal_error.code)}: ${safeText(task.fatal_error.description)}`;
  if (lastError !== undefined) {
    lines.push(`  last error event (${taskTime(lastError.time)}): ${safeText(lastError.code)}: ${eventText(lastError)}`);
  }
  if (task.fatal_error === undefined || task.fatal_error === null) {
    if (lastError === undefined) lines[0] += ' (control gave no reason)';
  }
  lines.push(`  see all events with: ferry task events ${task.task_id}`);
  return lines.join('\n') + '\n';
}
