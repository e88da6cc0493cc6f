import { FerryError } from '../../common/errors.js';
import type { EndpointRecord, EndpointRole } from '../store/index.js';
import { effectiveRoles, mayManageRoles, mayManageRules } from '../sharing/roles.js';
import type { Caller } from './auth.js';
import type { ApiContext } from './context.js';
import { callerPrincipalSet } from './endpoint-views.js';
import { visibleEndpoint } from './routes/endpoints.js';

export interface ManagedCollection {
  ep: EndpointRecord;
  /** The guest collection's host endpoint id. */
  hostId: string;
  roles: EndpointRole[];
}

/**
 * A guest collection whose rules or roles the caller wants to see or change. Rules and roles
 * exist on guest collections only: a mapped endpoint answers 409 ClientError.Conflict (as
 * Globus does for roles on an unmanaged endpoint). `need` says who may: rule managers (owner,
 * administrator, access_manager) or role managers (owner, administrator); others get 403.
 */
export function managedCollection(ctx: ApiContext, caller: Caller, id: string, need: 'rules' | 'roles'): ManagedCollection {
  const ep = visibleEndpoint(ctx, caller, id);
  if (ep.hostEndpointId === null) {
    throw new FerryError('ClientError.Conflict', `Endpoint '${ep.id}' is not a guest collection; access rules and roles exist on guest collections only`);
  }
  const roles = effectiveRoles(ctx.store, ep, callerPrincipalSet(caller));
  const allowed = need === 'rules' ? mayManageRules(roles) : mayManageRoles(roles);
  if (!allowed) {
    throw new FerryError('PermissionDenied', need === 'rules'
      ? 'Only the collection owner, administrators and access managers may manage its access rules'
      : 'Only the collection owner and administrators may manage its roles');
  }
  return { ep, hostId: ep.hostEndpointId, roles };
}
