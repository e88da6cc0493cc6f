import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { isUuid } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { encodeSetupKey } from '../../../pki/index.js';
import { TRANSFER_SCOPE, type EndpointRecord } from '../../store/index.js';
import { authenticate, ownedByAccount, type Caller } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { endpointDocFor } from '../endpoint-views.js';
import { newRequestId } from '../../../common/ids.js';
import { resourceOf } from '../errors.js';
import { EndpointCreateBody, EndpointUpdateBody } from '../schemas.js';

/**
 * Fetch an endpoint the caller may see: one owned by any identity of the caller's account, or
 * a public one. Globus answers EndpointNotFound for the others.
 */
export function visibleEndpoint(ctx: ApiContext, caller: Caller, id: string): EndpointRecord {
  if (!isUuid(id)) throw new FerryError('EndpointNotFound', `No endpoint with id '${id}'`);
  const rec = ctx.store.endpoints.get(id);
  if (!rec || (!ownedByAccount(caller, rec.ownerId) && !rec.public)) throw new FerryError('EndpointNotFound', `No endpoint with id '${id}'`);
  if (rec.deletedAt !== null) throw new FerryError('EndpointDeleted', `Endpoint '${id}' was deleted`);
  return rec;
}

/** An endpoint the caller's account owns (whichever of its identities created it). */
export function ownedEndpoint(ctx: ApiContext, caller: Caller, id: string): EndpointRecord {
  const rec = visibleEndpoint(ctx, caller, id);
  if (!ownedByAccount(caller, rec.ownerId)) throw new FerryError('PermissionDenied', 'Only the endpoint owner may do this');
  return rec;
}

const doc = endpointDocFor;

export function result(req: FastifyRequest, code: string, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { DATA_TYPE: 'result', code, message, request_id: newRequestId(), resource: resourceOf(req), ...extra };
}

export function registerEndpointRoutes(app: Api, ctx: ApiContext): void {
  const auth = (req: FastifyRequest) => authenticate(req, ctx.store, TRANSFER_SCOPE);

  app.post('/v0.10/endpoint', async (req, reply) => {
    const caller = auth(req);
    const body = assertSchema(EndpointCreateBody, req.body, 'ClientError.BadRequest', 'endpoint document');
    const rec = ctx.store.endpoints.create({
      ownerId: caller.identity.id,
      displayName: body.display_name,
      description: body.description ?? null,
      organization: body.organization ?? null,
      department: body.department ?? null,
      keywords: body.keywords ?? null,
      contactEmail: body.contact_email ?? null,
      contactInfo: body.contact_info ?? null,
      infoLink: body.info_link ?? null,
      defaultDirectory: body.default_directory ?? null,
      isGlobusConnect: body.is_globus_connect ?? true,
      public: body.public ?? false,
      forceEncryption: body.force_encryption ?? false,
    });
    const { secret } = ctx.store.setupKeys.create(rec.id, ctx.setupKeyTtlSeconds);
    const setupKey = encodeSetupKey({ u: ctx.publicUrl, h: ctx.caFingerprint, s: secret });
    req.log.info({ endpointId: rec.id, ownerId: caller.identity.id }, 'endpoint created');
    return reply.code(201).send({
      DATA_TYPE: 'endpoint_create_result', code: 'Created', id: rec.id, globus_connect_setup_key: setupKey,
      message: 'Endpoint created successfully', request_id: newRequestId(), resource: resourceOf(req),
    });
  });

  app.get<{ Params: { id: string } }>('/v0.10/endpoint/:id', async (req) => {
    const caller = auth(req);
    return doc(ctx, caller, visibleEndpoint(ctx, caller, req.params.id));
  });

  app.put<{ Params: { id: string } }>('/v0.10/endpoint/:id', async (req) => {
    const caller = auth(req);
    const rec = ownedEndpoint(ctx, caller, req.params.id);
    const body = assertSchema(EndpointUpdateBody, req.body, 'ClientError.BadRequest', 'endpoint document');
    const set = <T>(v: T | undefined, cur: T): T => (v === undefined ? cur : v);
    ctx.store.endpoints.update(rec.id, {
      displayName: set(body.display_name, rec.displayName), description: set(body.description, rec.description),
      organization: set(body.organization, rec.organization), department: set(body.department, rec.department),
      keywords: set(body.keywords, rec.keywords), contactEmail: set(body.contact_email, rec.contactEmail),
      contactInfo: set(body.contact_info, rec.contactInfo), infoLink: set(body.info_link, rec.infoLink),
      defaultDirectory: set(body.default_directory, rec.defaultDirectory),
      // Guest collections are always public: their access rules decide who gets in.
      public: rec.hostEndpointId !== null ? true : set(body.public, rec.public),
      forceEncryption: set(body.force_encryption, rec.forceEncryption),
    });
    return result(req, 'Updated', 'Endpoint updated successfully');
  });

  app.delete<{ Params: { id: string } }>('/v0.10/endpoint/:id', async (req) => {
    const caller = auth(req);
    const rec = ownedEndpoint(ctx, caller, req.params.id);
    if (rec.hostEndpointId !== null) {
      // A guest collection: its host's agents drop it from their replicas.
      ctx.sharing.commit(rec.hostEndpointId, 'collection deleted', { removed: [rec.id] }, () => ctx.store.endpoints.markDeleted(rec.id));
      req.log.info({ endpointId: rec.id, hostEndpointId: rec.hostEndpointId }, 'guest collection deleted');
      return result(req, 'Deleted', 'Endpoint deleted successfully');
    }
    // Its guest collections stay (their owners still see them, non-functional) but are disabled.
    const guests = ctx.store.endpoints.guestsOf(rec.id).map((g) => g.id);
    ctx.sharing.commit(rec.id, 'host endpoint deleted', { changed: guests }, () => {
      ctx.store.endpoints.markDeleted(rec.id);
      ctx.store.setupKeys.invalidateForEndpoint(rec.id);
      ctx.store.nodes.revokeForEndpoint(rec.id);
    });
    ctx.hub.disconnectEndpoint(rec.id, 'endpoint deleted');
    req.log.info({ endpointId: rec.id, guestCollections: guests.length }, 'endpoint deleted; its agent certificates are revoked');
    return result(req, 'Deleted', 'Endpoint deleted successfully');
  });
}
