import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { isUuid, newId, newRequestId } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { TRANSFER_SCOPE } from '../../store/index.js';
import type { NewTask, TaskRecord } from '../../store/tasks.js';
import {
  eventDocument, parseEventFilter, parseTaskFilter, parseTaskOrder, pickFields, skippedErrorDocument, successfulTransferDocument, taskDocument,
} from '../../tasks/index.js';
import { accountIdentityIds, authenticate, ownedByAccount, type Caller } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { resourceOf } from '../errors.js';
import { all, int, one, type Query } from '../query.js';
import { DeleteBody, TaskUpdateBody, TransferBody, deleteSpec, normalizeLabel, parseDeadline, transferSpec } from '../task-schemas.js';
import { DEFAULT_USER_LIMITS, tooManyPendingJobs } from '../user-limits.js';
import type { EndpointRecord } from '../../store/index.js';
import { endpointsForceEncryption } from '../../tasks/index.js';
import { ownedEndpoint, visibleEndpoint } from './endpoints.js';
import { guestRoute } from './operations.js';

type IdParams = { Params: { id: string } };

/** Most tasks or events one page returns (Globus: task_list pages of at most 1000). */
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 10;

/**
 * Globus task routes (globus-api.md §1.2, §1.3): submission (idempotent by submission_id),
 * the task document and list, update, cancel, events, successful transfers and pause info.
 * A task is visible only to its owner's account (any identity linked with the one that
 * submitted it); others get TaskNotFound, as if it did not exist.
 */
export function registerTaskRoutes(app: Api, ctx: ApiContext): void {
  const auth = (req: FastifyRequest) => authenticate(req, ctx.store, TRANSFER_SCOPE);
  const repo = ctx.store.tasks;

  const doc = (t: TaskRecord): Record<string, unknown> => taskDocument({
    record: t, now: Date.now(), owner: ctx.store.identities.byId(t.ownerId), source: ctx.store.endpoints.get(t.sourceEndpointId),
    destination: t.destinationEndpointId === null ? undefined : ctx.store.endpoints.get(t.destinationEndpointId),
    // Only tasks that may skip pay for the count (task_list builds up to 1000 documents a page).
    skippedErrors: t.type === 'TRANSFER' && t.options.session.skipSourceErrors ? repo.countSkipped(t.id) : 0,
  });

  const ownTask = (caller: Caller, id: string): TaskRecord => {
    const t = isUuid(id) ? repo.get(id.toLowerCase()) : undefined;
    if (!t || !ownedByAccount(caller, t.ownerId)) throw new FerryError('TaskNotFound', `No task with id '${id}'`);
    return t;
  };

  /**
   * An endpoint a task may use: one the caller's account owns, or any guest collection (its
   * host's agent decides every path from its rules and the submitter's principals).
   */
  const taskEndpoint = (caller: Caller, id: string): EndpointRecord => {
    const ep = visibleEndpoint(ctx, caller, id);
    if (ep.hostEndpointId === null) return ownedEndpoint(ctx, caller, id);
    guestRoute(ctx, ep);
    return ep;
  };

  const fieldsOf = (q: Query): string[] | undefined => {
    const f = one(q, 'fields');
    return f === undefined || f === '' ? undefined : f.split(',').map((s) => s.trim()).filter(Boolean);
  };

  /**
   * A new task is refused (409 ClientError.Conflict.TooManyPendingJobs) while its owner's
   * account (all its identities together) has the most active tasks allowed.
   */
  const withinActiveLimit = (caller: Caller, task: NewTask): NewTask => {
    const limit = (ctx.userLimits ?? DEFAULT_USER_LIMITS).activeTasksPerUser;
    const active = repo.list({ ownerId: accountIdentityIds(caller), statuses: ['ACTIVE', 'INACTIVE'], orderBy: [], limit: 0, offset: 0 }).total;
    if (active >= limit) throw tooManyPendingJobs(active, limit);
    return task;
  };

  /**
   * Create the task (owned by the account's primary identity), or answer Duplicate with the
   * task this submission id already made for any identity of the account.
   */
  const submit = (req: FastifyRequest, kind: 'transfer' | 'delete', caller: Caller, submissionId: string | undefined, build: (submissionId: string) => NewTask) => {
    const sid = submissionId ?? newId();
    const seen = repo.bySubmission(accountIdentityIds(caller), sid);
    const { record, duplicate } = seen ? { record: seen, duplicate: true } : repo.submit(withinActiveLimit(caller, build(sid)));
    if (!duplicate) {
      req.log.info({ taskId: record.id, type: record.type, items: record.items.length }, 'task submitted');
      ctx.tasks.kick(record.id);
    }
    return {
      DATA_TYPE: `${kind}_result`,
      code: duplicate ? 'Duplicate' : 'Accepted',
      message: duplicate
        ? `A ${kind} with this submission id was already submitted`
        : `The ${kind} has been accepted and a task has been created and queued for execution`,
      request_id: newRequestId(), resource: resourceOf(req), submission_id: record.submissionId, task_id: record.id,
      task_link: { DATA_TYPE: 'link', href: `/v0.10/task/${record.id}?format=json`, rel: 'related', resource: 'task', title: 'related task' },
      duplicate,
    };
  };

  app.get('/v0.10/submission_id', async (req) => {
    auth(req);
    return { DATA_TYPE: 'submission_id', value: newId() };
  });

  app.post('/v0.10/transfer', async (req, reply) => {
    const caller = auth(req);
    const body = assertSchema(TransferBody, req.body, 'ClientError.BadRequest', 'transfer document');
    const now = Date.now();
    const { duplicate, ...result } = submit(req, 'transfer', caller, body.submission_id, (submissionId) => {
      const spec = transferSpec(body);
      const deadline = body.deadline ? parseDeadline(body.deadline, now) : now + ctx.tasks.limits.defaultDeadlineMs;
      const src = taskEndpoint(caller, body.source_endpoint);
      const dst = taskEndpoint(caller, body.destination_endpoint);
      const same = JSON.stringify(spec.items);
      const clash = repo.activeForOwner(accountIdentityIds(caller), 'TRANSFER')
        .some((t) => t.sourceEndpointId === src.id && t.destinationEndpointId === dst.id && JSON.stringify(t.items) === same);
      if (clash) throw new FerryError('ClientError.Conflict', 'A transfer with identical paths has not yet completed');
      // force_encryption on either endpoint (or a guest collection's host) wins over encrypt_data false.
      const encryptData = spec.options.encryptData || endpointsForceEncryption((id) => ctx.store.endpoints.get(id), [src.id, dst.id]);
      return {
        type: 'TRANSFER', ...spec, options: { ...spec.options, encryptData }, ownerId: caller.identity.id, submissionId, label: normalizeLabel(body.label), deadline,
        sourceEndpointId: src.id, destinationEndpointId: dst.id,
      };
    });
    return reply.code(duplicate ? 200 : 202).send(result);
  });

  app.post('/v0.10/delete', async (req, reply) => {
    const caller = auth(req);
    const body = assertSchema(DeleteBody, req.body, 'ClientError.BadRequest', 'delete document');
    const now = Date.now();
    const { duplicate, ...result } = submit(req, 'delete', caller, body.submission_id, (submissionId) => {
      const spec = deleteSpec(body);
      const deadline = body.deadline ? parseDeadline(body.deadline, now) : now + ctx.tasks.limits.defaultDeadlineMs;
      const ep = taskEndpoint(caller, body.endpoint);
      return {
        type: 'DELETE', ...spec, ownerId: caller.identity.id, submissionId, label: normalizeLabel(body.label), deadline,
        sourceEndpointId: ep.id, destinationEndpointId: null,
      };
    });
    return reply.code(duplicate ? 200 : 202).send(result);
  });

  app.get('/v0.10/task_list', async (req) => {
    const caller = auth(req);
    const q = req.query as Query;
    const limit = int(q, 'limit', DEFAULT_PAGE, 1, MAX_PAGE);
    const offset = int(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const fields = fieldsOf(q);
    const found = repo.list({
      ...parseTaskFilter(all(q, 'filter')), orderBy: parseTaskOrder(one(q, 'orderby')), ownerId: accountIdentityIds(caller), limit, offset,
    });
    return {
      DATA_TYPE: 'task_list', length: found.records.length, limit, offset, total: found.total,
      has_next_page: offset + found.records.length < found.total, DATA: found.records.map((t) => pickFields(doc(t), fields)),
    };
  });

  app.get<IdParams>('/v0.10/task/:id', async (req) => {
    const caller = auth(req);
    return pickFields(doc(ownTask(caller, req.params.id)), fieldsOf(req.query as Query));
  });

  app.put<IdParams>('/v0.10/task/:id', async (req) => {
    const caller = auth(req);
    const t = ownTask(caller, req.params.id);
    const body = assertSchema(TaskUpdateBody, req.body, 'ClientError.BadRequest', 'task document');
    if (t.status !== 'ACTIVE' && t.status !== 'INACTIVE') throw new FerryError('ClientError.Conflict', 'The task has completed; only a running task can be updated');
    repo.apply(t.id, {
      ...(body.label === undefined ? {} : { label: normalizeLabel(body.label) }),
      ...(body.deadline === undefined || body.deadline === null ? {} : { deadline: parseDeadline(body.deadline, Date.now()) }),
    });
    return { DATA_TYPE: 'result', code: 'Updated', message: 'Updated task deadline and label successfully', request_id: newRequestId(), resource: resourceOf(req) };
  });

  app.post<IdParams>('/v0.10/task/:id/cancel', async (req) => {
    const caller = auth(req);
    const t = ownTask(caller, req.params.id);
    const outcome = ctx.tasks.cancel(t.id);
    const message = outcome === 'Canceled' ? 'The task has been cancelled successfully.' : 'The task completed before the cancel request was processed.';
    if (outcome === 'Canceled') req.log.info({ taskId: t.id }, 'task canceled by its owner');
    return { DATA_TYPE: 'result', code: outcome, message, request_id: newRequestId(), resource: resourceOf(req) };
  });

  app.get<IdParams>('/v0.10/task/:id/event_list', async (req) => {
    const caller = auth(req);
    const t = ownTask(caller, req.params.id);
    const q = req.query as Query;
    const limit = int(q, 'limit', DEFAULT_PAGE, 1, MAX_PAGE);
    const offset = int(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const found = repo.listEvents(t.id, { ...parseEventFilter(all(q, 'filter')), limit, offset });
    return {
      DATA_TYPE: 'event_list', length: found.records.length, limit, offset, total: found.total,
      has_next_page: offset + found.records.length < found.total, DATA: found.records.map(eventDocument),
    };
  });

  /** A per-task list paged by Globus `marker` (successful_transfers, skipped_errors). */
  const markerPaged = <R>(dataType: string, list: (taskId: string, marker: number, limit: number) => { records: R[]; nextMarker: number | null }, docOf: (r: R) => Record<string, unknown>) =>
    async (req: FastifyRequest<IdParams>) => {
      const t = ownTask(auth(req), req.params.id);
      const marker = int(req.query as Query, 'marker', 0, 0, Number.MAX_SAFE_INTEGER);
      const page = list(t.id, marker, ctx.tasks.limits.successfulTransfersPage);
      return { DATA_TYPE: dataType, marker, next_marker: page.nextMarker, DATA: page.records.map(docOf) };
    };
  app.get<IdParams>('/v0.10/task/:id/successful_transfers', markerPaged('successful_transfers', (id, m, n) => repo.listSuccessful(id, m, n), successfulTransferDocument));
  app.get<IdParams>('/v0.10/task/:id/skipped_errors', markerPaged('skipped_errors', (id, m, n) => repo.listSkipped(id, m, n), skippedErrorDocument));


  app.get<IdParams>('/v0.10/task/:id/pause_info', async (req) => {
    const caller = auth(req);
    const t = ownTask(caller, req.params.id);
    // Ferry has no pause rules; what holds an active task back is an endpoint whose agent is
    // away, and that is what the messages say (clients show them as the reason it waits).
    const away = (endpointId: string | null): string | null => {
      const ep = endpointId === null ? undefined : ctx.store.endpoints.get(endpointId);
      const agentEndpoint = ep?.hostEndpointId ?? endpointId;
      if (t.status !== 'ACTIVE' || agentEndpoint === null || ctx.hub.connectedNodes(agentEndpoint).length > 0) return null;
      return 'The endpoint has no connected agent; the task resumes by itself when it connects (nice_status GC_NOT_CONNECTED).';
    };
    return {
      DATA_TYPE: 'pause_info_limited', pause_rules: [],
      source_pause_message: away(t.sourceEndpointId),
      destination_pause_message: t.destinationEndpointId === t.sourceEndpointId ? null : away(t.destinationEndpointId),
      source_pause_message_share: null, destination_pause_message_share: null,
    };
  });
}
