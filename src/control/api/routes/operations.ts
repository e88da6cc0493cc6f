import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { newRequestId } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { MAX_LS_ENTRIES } from '../../../protocol/index.js';
import { TRANSFER_SCOPE } from '../../store/index.js';
import { authenticate, principalsOf } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { resourceOf } from '../errors.js';
import { compileFilter, compileOrder } from '../ls-filter.js';
import { all, bool, int, one, type Query } from '../query.js';
import { MkdirBody, RenameBody } from '../schemas.js';
import { ownedEndpoint } from './endpoints.js';

type EpParams = { Params: { id: string } };

/**
 * Globus file operations (globus-api.md §1.1). Control checks who may use the endpoint;
 * the agent checks the path against its own roots and runs the operation.
 */
export function registerOperationRoutes(app: Api, ctx: ApiContext): void {
  const start = (req: FastifyRequest<EpParams>) => {
    const caller = authenticate(req, ctx.store, TRANSFER_SCOPE);
    // Until sharing lands, only the owner may touch an endpoint's files.
    const ep = ownedEndpoint(ctx, caller, req.params.id);
    return { caller, ep, principals: principalsOf(caller) };
  };

  app.get<EpParams>('/v0.10/operation/endpoint/:id/ls', async (req) => {
    const { ep, principals } = start(req);
    const q = req.query as Query;
    const path = one(q, 'path') || '/~/';
    const showHidden = bool(q, 'show_hidden', true);
    const limit = int(q, 'limit', MAX_LS_ENTRIES, 0, MAX_LS_ENTRIES);
    const offset = int(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const filter = compileFilter(all(q, 'filter'));
    const order = compileOrder(one(q, 'orderby'));
    const listing = await ctx.hub.request(ep.id, 'ls', { path, showHidden }, principals);
    let entries = listing.entries.filter(filter);
    if (order) entries = [...entries].sort(order);
    const page = entries.slice(offset, offset + limit);
    return {
      DATA_TYPE: 'file_list', endpoint: ep.id, path: listing.path, absolute_path: null,
      rename_supported: true, symlink_supported: false, length: page.length, total: entries.length,
      limit, offset, has_next_page: offset + page.length < entries.length, DATA: page,
    };
  });

  app.get<EpParams>('/v0.10/operation/endpoint/:id/stat', async (req) => {
    const { ep, principals } = start(req);
    const path = one(req.query as Query, 'path');
    if (!path) throw new FerryError('ClientError.BadRequest', "query parameter 'path' is required");
    return ctx.hub.request(ep.id, 'stat', { path }, principals);
  });

  app.post<EpParams>('/v0.10/operation/endpoint/:id/mkdir', async (req, reply) => {
    const { ep, principals } = start(req);
    const body = assertSchema(MkdirBody, req.body, 'ClientError.BadRequest', 'mkdir document');
    await ctx.hub.request(ep.id, 'mkdir', { path: body.path }, principals);
    return reply.code(202).send({ DATA_TYPE: 'mkdir_result', code: 'DirectoryCreated', message: 'The directory was created successfully', request_id: newRequestId(), resource: resourceOf(req) });
  });

  app.post<EpParams>('/v0.10/operation/endpoint/:id/rename', async (req) => {
    const { ep, principals } = start(req);
    const body = assertSchema(RenameBody, req.body, 'ClientError.BadRequest', 'rename document');
    await ctx.hub.request(ep.id, 'rename', { oldPath: body.old_path, newPath: body.new_path }, principals);
    return { DATA_TYPE: 'result', code: 'FileRenamed', message: 'File or directory renamed successfully', request_id: newRequestId(), resource: resourceOf(req) };
  });
}
