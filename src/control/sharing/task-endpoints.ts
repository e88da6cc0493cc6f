import type { Principals } from '../../protocol/index.js';
import { accountPrincipals, authFor } from '../auth/index.js';
import type { ControlStore } from '../store/index.js';
import { principalsForCollection } from './principals.js';
import { endpointsForceEncryption, type EndpointRoute, type TaskEndpoints } from '../tasks/index.js';

/**
 * Control's answer to "which agents serve this endpoint, and who is asking": a guest collection
 * is served by its host's agents, and a task carries its owner's account (linked identities and
 * groups, computed when asked, the way the bearer check computes them), narrowed to the ids the
 * collection names (principals.ts).
 */
export function storeTaskEndpoints(store: ControlStore): TaskEndpoints {
  return {
    route(endpointId: string): EndpointRoute {
      const ep = store.endpoints.get(endpointId);
      if (!ep) return { refused: `endpoint '${endpointId}' does not exist` };
      if (ep.hostEndpointId === null) return { agentEndpointId: ep.id, collectionId: null };
      if (ep.deletedAt !== null) return { refused: `guest collection '${ep.id}' was deleted` };
      const host = store.endpoints.get(ep.hostEndpointId);
      if (!host || host.deletedAt !== null) return { refused: `the host endpoint of guest collection '${ep.id}' was deleted` };
      return { agentEndpointId: host.id, collectionId: ep.id };
    },
    forcesEncryption(endpointIds: readonly string[]): boolean {
      return endpointsForceEncryption((id) => store.endpoints.get(id), endpointIds);
    },
    principals(ownerId: string, collectionId: string | null): Principals {
      const p = accountPrincipals(authFor(store.db), ownerId);
      return principalsForCollection(store, collectionId, {
        identityId: p.primaryId,
        linkedIdentityIds: p.identityIds.filter((id) => id !== p.primaryId),
        groupIds: p.groupIds,
        authenticated: true,
      });
    },
  };
}
