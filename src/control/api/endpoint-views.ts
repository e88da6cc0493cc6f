import type { EndpointRecord, PrincipalSet } from '../store/index.js';
import { isShareable } from '../sharing/paths.js';
import { effectiveRoles } from '../sharing/roles.js';
import { accountIdentityIds, ownedByAccount, type Caller } from './auth.js';
import type { ApiContext } from './context.js';
import { endpointDocument } from './endpoint-document.js';

/** The caller as access rules and roles name her: her account's identities and her groups. */
export function callerPrincipalSet(caller: Caller): PrincipalSet {
  return { identityIds: accountIdentityIds(caller), groupIds: caller.groupIds ?? [] };
}

/** The endpoint whose agents serve `rec`: itself, or its host for a guest collection. */
export function agentEndpointOf(rec: EndpointRecord): string {
  return rec.hostEndpointId ?? rec.id;
}

/**
 * A guest collection cannot work when its host is gone, or when the host's connected agents
 * no longer mark its path shareable (their config changed). Unknown while none is connected.
 */
export function guestNonFunctional(ctx: ApiContext, rec: EndpointRecord, host: EndpointRecord | undefined): boolean {
  if (rec.hostEndpointId === null) return false;
  if (!host || host.deletedAt !== null) return true;
  const nodes = ctx.hub.connectedNodes(host.id);
  if (nodes.length === 0) return false;
  return !nodes.some((n) => isShareable(rec.hostPath ?? '/', n.hello?.roots ?? []));
}

/** The Globus endpoint document of `rec` as the caller sees it. */
export function endpointDocFor(ctx: ApiContext, caller: Caller, rec: EndpointRecord): Record<string, unknown> {
  const host = rec.hostEndpointId === null ? undefined : ctx.store.endpoints.get(rec.hostEndpointId);
  return endpointDocument({
    record: rec,
    owner: ctx.store.identities.byId(rec.ownerId),
    // A guest collection is reachable when its host's agent is.
    connected: ctx.hub.isConnected(agentEndpointOf(rec)),
    isOwner: ownedByAccount(caller, rec.ownerId),
    host,
    roles: effectiveRoles(ctx.store, rec, callerPrincipalSet(caller)),
    nonFunctional: guestNonFunctional(ctx, rec, host),
  });
}
