import type { Principals } from '../../protocol/index.js';
import type { ControlStore } from '../store/index.js';

/**
 * The requester's principals as a host's agent needs them for one request. The agent decides
 * from the ids that a guest collection's owner, rules and roles name, so an id none of them
 * names cannot change its answer; and the host's agent, often run by another party, need not
 * learn the rest of someone's account (every linked identity, every group). Without a
 * collection (a mapped endpoint, used by its owner only) the agent is told the identity alone.
 */
export function principalsForCollection(store: ControlStore, collectionId: string | null | undefined, p: Principals): Principals {
  const base: Principals = { identityId: p.identityId, linkedIdentityIds: [], groupIds: [], authenticated: p.authenticated };
  if (!collectionId) return base;
  const named = new Set<string>();
  const collection = store.endpoints.get(collectionId);
  if (collection) named.add(collection.ownerId);
  for (const r of store.accessRules.list(collectionId)) if (r.principal !== '') named.add(r.principal);
  for (const r of store.roles.list(collectionId)) named.add(r.principal);
  return {
    ...base,
    linkedIdentityIds: p.linkedIdentityIds.filter((id) => named.has(id)),
    groupIds: p.groupIds.filter((id) => named.has(id)),
  };
}
