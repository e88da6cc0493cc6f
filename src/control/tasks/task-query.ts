import { FerryError } from '../../common/errors.js';
import { TASK_ORDER_FIELDS, TASK_STATUSES, TASK_TYPES, type TaskListQuery, type TaskOrderField, type TaskStatus, type TaskType } from '../store/tasks.js';

/**
 * Globus task-list and event-list query grammar (globus-api.md §0): `filter` clauses joined
 * by `/`, values inside a clause by `,` (`status:ACTIVE,SUCCEEDED/type:TRANSFER`);
 * `orderby` is `field [ASC|DESC]`, comma-separated.
 */

type Clauses = Map<string, string>;

function clauses(filters: readonly string[], allowed: readonly string[]): Clauses {
  const out: Clauses = new Map();
  for (const filter of filters) {
    for (const clause of filter.split('/')) {
      if (clause.trim() === '') continue;
      const colon = clause.indexOf(':');
      if (colon <= 0) throw new FerryError('ClientError.BadRequest', `filter clause '${clause}' must look like field:value`);
      const field = clause.slice(0, colon).trim();
      if (!allowed.includes(field)) throw new FerryError('ClientError.BadRequest', `cannot filter on '${field}'; use one of ${allowed.join(', ')}`);
      out.set(field, clause.slice(colon + 1));
    }
  }
  return out;
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

function enumList<T extends string>(field: string, v: string, values: readonly T[]): T[] {
  const got = list(v).map((s) => s.toUpperCase());
  for (const g of got) {
    if (!(values as readonly string[]).includes(g)) throw new FerryError('ClientError.BadRequest', `${field} must be one of ${values.join(', ')}, not '${g}'`);
  }
  return got as T[];
}

function timeRange(field: string, v: string): { from?: number; to?: number } {
  const [a = '', b = ''] = v.split(',');
  const at = (s: string): number | undefined => {
    if (s.trim() === '') return undefined;
    const ms = Date.parse(s.trim());
    if (Number.isNaN(ms)) throw new FerryError('ClientError.BadRequest', `${field} range bound '${s}' is not a date`);
    return ms;
  };
  const r: { from?: number; to?: number } = {};
  const from = at(a);
  const to = at(b);
  if (from !== undefined) r.from = from;
  if (to !== undefined) r.to = to;
  return r;
}

export type TaskListFilter = Omit<TaskListQuery, 'ownerId' | 'orderBy' | 'limit' | 'offset'>;

export function parseTaskFilter(filters: readonly string[]): TaskListFilter {
  const c = clauses(filters, ['task_id', 'status', 'type', 'label', 'request_time', 'completion_time']);
  const f: TaskListFilter = {};
  const taskId = c.get('task_id');
  if (taskId !== undefined) f.taskIds = list(taskId).map((s) => s.toLowerCase());
  const status = c.get('status');
  if (status !== undefined) f.statuses = enumList<TaskStatus>('status', status, TASK_STATUSES);
  const type = c.get('type');
  if (type !== undefined) f.types = enumList<TaskType>('type', type, TASK_TYPES);
  const label = c.get('label');
  if (label !== undefined) {
    // Globus's label operators: ~ (contains), !~ (does not contain), ! (not equal), = or none (equal).
    if (label.startsWith('!~')) f.labelNotLike = label.slice(2);
    else if (label.startsWith('~')) f.labelLike = label.slice(1);
    else if (label.startsWith('!')) f.labelsNot = list(label.slice(1));
    else if (label.startsWith('=')) f.labels = list(label.slice(1));
    else f.labels = list(label);
  }
  const rt = c.get('request_time');
  if (rt !== undefined) f.requestTime = timeRange('request_time', rt);
  const ct = c.get('completion_time');
  if (ct !== undefined) f.completionTime = timeRange('completion_time', ct);
  return f;
}

export function parseTaskOrder(orderby: string | undefined): TaskListQuery['orderBy'] {
  if (orderby === undefined || orderby.trim() === '') return [{ field: 'request_time', desc: true }];
  return orderby.split(',').map((part) => {
    const [field = '', dir = 'ASC', ...extra] = part.trim().split(/\s+/);
    if (!Object.hasOwn(TASK_ORDER_FIELDS, field)) {
      throw new FerryError('ClientError.BadRequest', `cannot order by '${field}'; use one of ${Object.keys(TASK_ORDER_FIELDS).join(', ')}`);
    }
    const d = dir.toUpperCase();
    if ((d !== 'ASC' && d !== 'DESC') || extra.length > 0) throw new FerryError('ClientError.BadRequest', `orderby '${part.trim()}' must be 'field [ASC|DESC]'`);
    return { field: field as TaskOrderField, desc: d === 'DESC' };
  });
}

export function parseEventFilter(filters: readonly string[]): { isError?: boolean; codes?: string[] } {
  const c = clauses(filters, ['is_error', 'code']);
  const out: { isError?: boolean; codes?: string[] } = {};
  const isError = c.get('is_error');
  if (isError !== undefined) {
    const v = isError.trim().toLowerCase();
    if (v === '1' || v === 'true') out.isError = true;
    else if (v === '0' || v === 'false') out.isError = false;
    else throw new FerryError('ClientError.BadRequest', 'is_error must be 1, 0, true or false');
  }
  const code = c.get('code');
  if (code !== undefined) out.codes = list(code).map((s) => s.toUpperCase());
  return out;
}
