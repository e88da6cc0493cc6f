import type { EndpointRecord, EndpointRole, PrincipalSet } from '../store/index.js';
import type { ControlStore } from '../store/index.js';

/**
 * What a caller may do on an endpoint, from ownership and endpoint roles. The owner's account
 * counts as administrator; a role names an identity of the caller's account or one of her
 * groups (globus-api.md §3).
 */
export function effectiveRoles(store: ControlStore, ep: EndpointRecord, caller: PrincipalSet): EndpointRole[] {
  const roles = new Set<EndpointRole>();
  if (caller.identityIds.includes(ep.ownerId)) roles.add('administrator');
  if (ep.hostEndpointId !== null) for (const r of store.roles.held(ep.id, caller)) roles.add(r);
  return [...roles];
}

/** Create, change and delete access rules: owner, administrator, access_manager. */
export const mayManageRules = (roles: readonly EndpointRole[]): boolean => roles.includes('administrator') || roles.includes('access_manager');

/** Create and delete roles: owner and administrator. */
export const mayManageRoles = (roles: readonly EndpointRole[]): boolean => roles.includes('administrator');
