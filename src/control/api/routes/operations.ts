import type { FastifyRequest } from 'fastify';
import { FerryError, isFerryError, type ErrorCode } from '../../../common/errors.js';
import { newRequestId } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { MAX_LS_ENTRIES, type FileOpArgs, type FileOpName, type FileOpResult } from '../../../protocol/index.js';
import { TRANSFER_SCOPE } from '../../store/index.js';
import { principalsForCollection } from '../../sharing/principals.js';
import { authenticate, principalsOf } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { resourceOf } from '../errors.js';
import { compileFilter, compileOrder } from '../ls-filter.js';
import { all, bool, int, one, type Query } from '../query.js';
import { MkdirBody, RenameBody } from '../schemas.js';
import { DEFAULT_USER_LIMITS, OperationLimiter, OPS_RETRY_AFTER_SECONDS } from '../user-limits.js';
import type { EndpointRecord } from '../../store/index.js';
import { ownedEndpoint, visibleEndpoint } from './endpoints.js';

type EpParams = { Params: { id: string } };

/**
 * Globus's codes for a failed operation name the operation (recorded responses, globus-api.md
 * §1.1): stat of a missing path is NotFound, ls of an offline endpoint
 * ExternalError.DirListingFailed.GCDisconnected, and a refused operation
 * ExternalError.<Op>Failed.PermissionDenied.
 */
const PERMISSION_BY_OP: Partial<Record<FileOpName, ErrorCode>> = {
  ls: 'ExternalError.DirListingFailed.PermissionDenied',
  mkdir: 'ExternalError.MkdirFailed.PermissionDenied',
  rename: 'ExternalError.RenameFailed.PermissionDenied',
};

export function globusOpError(op: FileOpName, err: unknown): unknown {
  if (!isFerryError(err)) return err;
  let code: ErrorCode | undefined;
  if (op === 'stat' && err.code === 'ClientError.NotFound') code = 'NotFound';
  else if (op === 'ls' && err.code === 'ExternalError.GCDisconnected') code = 'ExternalError.DirListingFailed.GCDisconnected';
  else if (err.code === 'ExternalError.PermissionDenied') code = PERMISSION_BY_OP[op];
  // The agent's own limits (its ls entry budget) refuse with 429; the link carries no details,
  // so the Retry-After the Globus SDKs wait on is added here.
  else if (err.code === 'ClientError.TooManyRequests' && err.details?.['retryAfterSeconds'] === undefined) {
    return new FerryError(err.code, err.message, { cause: err, details: { ...err.details, retryAfterSeconds: OPS_RETRY_AFTER_SECONDS } });
  }
  return code === undefined ? err : new FerryError(code, err.message, { cause: err, ...(err.details ? { details: err.details } : {}) });
}

/**
 * Where an operation on `ep` goes: its own agents, or for a guest collection its host's agents
 * naming the collection. A collection whose host is gone is refused at once.
 */
export function guestRoute(ctx: ApiContext, ep: EndpointRecord): { agentEndpointId: string; collectionId: string | undefined } {
  if (ep.hostEndpointId === null) return { agentEndpointId: ep.id, collectionId: undefined };
  const host = ctx.store.endpoints.get(ep.hostEndpointId);
  if (!host || host.deletedAt !== null) throw new FerryError('Sharing.CollectionRefused', `The host endpoint of guest collection '${ep.id}' was deleted`);
  return { agentEndpointId: host.id, collectionId: ep.id };
}

/**
 * Globus file operations (globus-api.md §1.1). Control checks who may use the endpoint and
 * how many operations the caller already has in flight (429 over the limit); the agent checks
 * the path against its own roots and runs the operation.
 */
export function registerOperationRoutes(app: Api, ctx: ApiContext): void {
  const limiter = ctx.opLimiter ?? new OperationLimiter(ctx.userLimits ?? DEFAULT_USER_LIMITS);
  const start = (req: FastifyRequest<EpParams>) => {
    const caller = authenticate(req, ctx.store, TRANSFER_SCOPE);
    const visible = visibleEndpoint(ctx, caller, req.params.id);
    // A mapped endpoint's files are its owner's alone. On a guest collection anyone may try:
    // the host's agent decides from its replica of the rules and the caller's principals.
    const ep = visible.hostEndpointId === null ? ownedEndpoint(ctx, caller, req.params.id) : visible;
    const route = guestRoute(ctx, ep);
    return { caller, ep, principals: principalsForCollection(ctx.store, route.collectionId, principalsOf(caller)), ...route };
  };
  /** Run the operation on the endpoint's agent, holding one of the caller's slots until the agent answers (or times out). */
  const onAgent = async <K extends FileOpName>(s: ReturnType<typeof start>, op: K, args: FileOpArgs<K>): Promise<FileOpResult<K>> => {
    const release = limiter.acquire(s.caller.identity.id, s.ep.id);
    try {
      return await ctx.hub.request(s.agentEndpointId, op, args, s.principals, undefined, s.collectionId);
    } catch (err) {
      throw globusOpError(op, err);
    } finally {
      release();
    }
  };

  app.get<EpParams>('/v0.10/operation/endpoint/:id/ls', async (req) => {
    const s = start(req);
    const q = req.query as Query;
    // No path: the endpoint's default_directory, as Globus does; else the home directory.
    const path = one(q, 'path') || s.ep.defaultDirectory || '/~/';
    const showHidden = bool(q, 'show_hidden', true);
    const limit = int(q, 'limit', MAX_LS_ENTRIES, 0, MAX_LS_ENTRIES);
    const offset = int(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const filter = compileFilter(all(q, 'filter'));
    const order = compileOrder(one(q, 'orderby'));
    const listing = await onAgent(s, 'ls', { path, showHidden });
    let entries = listing.entries.filter(filter);
    if (order) entries = [...entries].sort(order);
    const page = entries.slice(offset, offset + limit);
    return {
      DATA_TYPE: 'file_list', endpoint: s.ep.id, path: listing.path, absolute_path: null,
      rename_supported: true, symlink_supported: false, length: page.length, total: entries.length,
      limit, offset, has_next_page: offset + page.length < entries.length, DATA: page,
    };
  });

  app.get<EpParams>('/v0.10/operation/endpoint/:id/stat', async (req) => {
    const s = start(req);
    const path = one(req.query as Query, 'path');
    if (!path) throw new FerryError('ClientError.BadRequest', "query parameter 'path' is required");
    return onAgent(s, 'stat', { path });
  });

  app.post<EpParams>('/v0.10/operation/endpoint/:id/mkdir', async (req, reply) => {
    const s = start(req);
    const body = assertSchema(MkdirBody, req.body, 'ClientError.BadRequest', 'mkdir document');
    await onAgent(s, 'mkdir', { path: body.path });
    return reply.code(202).send({ DATA_TYPE: 'mkdir_result', code: 'DirectoryCreated', message: 'The directory was created successfully', request_id: newRequestId(), resource: resourceOf(req) });
  });

  app.post<EpParams>('/v0.10/operation/endpoint/:id/rename', async (req) => {
    const s = start(req);
    const body = assertSchema(RenameBody, req.body, 'ClientError.BadRequest', 'rename document');
    await onAgent(s, 'rename', { oldPath: body.old_path, newPath: body.new_path });
    return { DATA_TYPE: 'result', code: 'FileRenamed', message: 'File or directory renamed successfully', request_id: newRequestId(), resource: resourceOf(req) };
  });
}
