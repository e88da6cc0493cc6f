import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { isUuid } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { authFor } from '../../auth/index.js';
import { TRANSFER_SCOPE, type RoleRecord } from '../../store/index.js';
import { authenticate } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { managedCollection } from '../sharing-access.js';
import { RoleCreateBody } from '../sharing-schemas.js';
import type { SharingLimiters } from '../user-limits.js';
import { result } from './endpoints.js';

type EpParams = { Params: { id: string } };
type RoleParams = { Params: { id: string; roleId: string } };

/** Roles one guest collection may have. */
export const MAX_ROLES_PER_COLLECTION = 1000;

function roleDocument(r: RoleRecord): Record<string, unknown> {
  return { DATA_TYPE: 'role', id: r.id, principal_type: r.principalType, principal: r.principal, role: r.role };
}

/**
 * Endpoint roles of guest collections (Globus endpoint_roles): administrator, access_manager,
 * activity_manager, activity_monitor, held by an identity or a group. The owner and
 * administrators manage them; administrator and access_manager holders get the implicit rw
 * on '/' and manage rules, so those changes are published to the host's agents.
 */
export function registerEndpointRoleRoutes(app: Api, ctx: ApiContext, limiters: SharingLimiters): void {
  const auth = (req: FastifyRequest) => authenticate(req, ctx.store, TRANSFER_SCOPE);
  const roleOf = (endpointId: string, roleId: string): RoleRecord => {
    const role = isUuid(roleId) ? ctx.store.roles.get(endpointId, roleId.toLowerCase()) : undefined;
    if (!role) throw new FerryError('RoleNotFound', `No role '${roleId}' on endpoint '${endpointId}'`);
    return role;
  };

  app.get<EpParams>('/v0.10/endpoint/:id/role_list', async (req) => {
    const { ep } = managedCollection(ctx, auth(req), req.params.id, 'roles');
    return { DATA_TYPE: 'role_list', DATA: ctx.store.roles.list(ep.id).map(roleDocument) };
  });

  app.post<EpParams>('/v0.10/endpoint/:id/role', async (req, reply) => {
    const caller = auth(req);
    const { ep, hostId } = managedCollection(ctx, caller, req.params.id, 'roles');
    const body = assertSchema(RoleCreateBody, req.body, 'ClientError.BadRequest', 'role document');
    const principal = body.principal.toLowerCase();
    const exists = body.principal_type === 'identity' ? ctx.store.identities.byId(principal) !== undefined : authFor(ctx.store.db).groups.byId(principal) !== undefined;
    if (!exists) throw new FerryError('ClientError.BadRequest', `principal '${body.principal}' is not a known ${body.principal_type} id`);
    if (ctx.store.roles.list(ep.id).length >= MAX_ROLES_PER_COLLECTION) throw new FerryError('ClientError.Conflict', `An endpoint may have at most ${MAX_ROLES_PER_COLLECTION} roles`);
    limiters.changes.take(caller.identity.id);
    const role = ctx.sharing.commit(hostId, 'role created', { changed: [ep.id] }, () => ctx.store.roles.create({
      endpointId: ep.id, principalType: body.principal_type, principal, role: body.role,
    }));
    req.log.info({ endpointId: ep.id, roleId: role.id, role: role.role, principalType: role.principalType }, 'endpoint role created');
    // The live service answers with the role document itself (PY-SDK 2018 tests).
    return reply.code(201).send(roleDocument(role));
  });

  app.get<RoleParams>('/v0.10/endpoint/:id/role/:roleId', async (req) => {
    const { ep } = managedCollection(ctx, auth(req), req.params.id, 'roles');
    return roleDocument(roleOf(ep.id, req.params.roleId));
  });

  app.delete<RoleParams>('/v0.10/endpoint/:id/role/:roleId', async (req) => {
    const caller = auth(req);
    const { ep, hostId } = managedCollection(ctx, caller, req.params.id, 'roles');
    const role = roleOf(ep.id, req.params.roleId);
    limiters.changes.take(caller.identity.id);
    ctx.sharing.commit(hostId, 'role deleted', { changed: [ep.id] }, () => ctx.store.roles.delete(ep.id, role.id));
    req.log.info({ endpointId: ep.id, roleId: role.id }, 'endpoint role deleted');
    return result(req, 'Deleted', `Role '${role.id}' deleted successfully`);
  });
}
