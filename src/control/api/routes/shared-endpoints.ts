import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { newRequestId } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { normaliseHostPath, rootOf } from '../../sharing/paths.js';
import { TRANSFER_SCOPE } from '../../store/index.js';
import { principalsForCollection } from '../../sharing/principals.js';
import { accountIdentityIds, authenticate, ownedByAccount, principalsOf } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { endpointDocFor } from '../endpoint-views.js';
import { resourceOf } from '../errors.js';
import { SharedEndpointBody } from '../sharing-schemas.js';
import { visibleEndpoint } from './endpoints.js';
import { globusOpError } from './operations.js';

/** Guest collections one host endpoint may carry (what one sharing snapshot may hold). */
export const MAX_GUEST_COLLECTIONS_PER_HOST = 1000;

/**
 * Guest collections (GCP "shared endpoints", globus-api.md §1.4): created by the owner of a
 * mapped endpoint on a directory its connected agent marks shareable; public, owned by the
 * creator. Their rules live in access-rules.ts, their roles in endpoint-roles.ts.
 */
export function registerSharedEndpointRoutes(app: Api, ctx: ApiContext): void {
  const auth = (req: FastifyRequest) => authenticate(req, ctx.store, TRANSFER_SCOPE);

  app.post('/v0.10/shared_endpoint', async (req, reply) => {
    const caller = auth(req);
    const body = assertSchema(SharedEndpointBody, req.body, 'ClientError.BadRequest', 'shared_endpoint document');
    if (body.host_endpoint && body.host_endpoint_id && body.host_endpoint.toLowerCase() !== body.host_endpoint_id.toLowerCase()) {
      throw new FerryError('ClientError.BadRequest', 'host_endpoint and host_endpoint_id name different endpoints');
    }
    const hostId = body.host_endpoint ?? body.host_endpoint_id;
    if (!hostId) throw new FerryError('ClientError.BadRequest', 'shared_endpoint document: host_endpoint is required');
    const host = visibleEndpoint(ctx, caller, hostId.toLowerCase());
    if (host.hostEndpointId !== null) throw new FerryError('ClientError.BadRequest', 'host_endpoint is a guest collection; guest collections are created on a mapped endpoint');
    if (!ownedByAccount(caller, host.ownerId)) throw new FerryError('PermissionDenied', 'Only the owner of the host endpoint may create guest collections on it');
    const { canonical, parsed } = normaliseHostPath(body.host_path);

    // The agent's own config decides what may be shared; control only asks a connected one.
    const nodes = ctx.hub.connectedNodes(host.id);
    if (nodes.length === 0) throw new FerryError('ExternalError.GCDisconnected', "The host endpoint's agent is not connected; start it to create a guest collection");
    if (!nodes.some((n) => rootOf(parsed, n.hello?.roots ?? [])?.sharing === true)) {
      throw new FerryError('Sharing.NotShareable', `'${canonical}' is not below a root that the host endpoint's agent shares (its config marks roots ':share')`);
    }
    let stat;
    try {
      stat = await ctx.hub.request(host.id, 'stat', { path: canonical }, principalsForCollection(ctx.store, null, principalsOf(caller)));
    } catch (err) {
      throw globusOpError('stat', err);
    }
    if (stat.type !== 'dir') throw new FerryError('ClientError.BadRequest', `host_path '${canonical}' is not a directory`);
    if (ctx.store.endpoints.guestsOf(host.id).length >= MAX_GUEST_COLLECTIONS_PER_HOST) {
      throw new FerryError('ClientError.Conflict', `The host endpoint already carries ${MAX_GUEST_COLLECTIONS_PER_HOST} guest collections`);
    }

    const rec = ctx.sharing.commit(host.id, 'collection created', (r) => ({ changed: [r.id] }), () => ctx.store.endpoints.create({
      ownerId: caller.identity.id,
      displayName: body.display_name,
      description: body.description ?? null,
      organization: body.organization ?? host.organization,
      department: body.department ?? null,
      keywords: body.keywords ?? null,
      contactEmail: body.contact_email ?? null,
      contactInfo: body.contact_info ?? null,
      infoLink: body.info_link ?? null,
      defaultDirectory: '/',
      isGlobusConnect: host.isGlobusConnect,
      // Guest collections are always public (globus-api.md §1.4); their rules decide who gets in.
      public: true,
      hostEndpointId: host.id,
      hostPath: canonical,
      forceEncryption: body.force_encryption ?? false,
    }));
    req.log.info({ endpointId: rec.id, hostEndpointId: host.id, hostPath: canonical, ownerId: caller.identity.id }, 'guest collection created');
    return reply.code(201).send({
      DATA_TYPE: 'endpoint_create_result', code: 'Created', id: rec.id, globus_connect_setup_key: null,
      message: 'Shared endpoint created', request_id: newRequestId(), resource: resourceOf(req),
    });
  });

  app.get<{ Params: { id: string } }>('/v0.10/endpoint/:id/my_shared_endpoint_list', async (req) => {
    const caller = auth(req);
    const host = visibleEndpoint(ctx, caller, req.params.id);
    const account = accountIdentityIds(caller);
    const mine = ctx.store.endpoints.guestsOf(host.id).filter((g) => account.includes(g.ownerId));
    return { DATA_TYPE: 'endpoint_list', DATA: mine.map((g) => endpointDocFor(ctx, caller, g)) };
  });
}
