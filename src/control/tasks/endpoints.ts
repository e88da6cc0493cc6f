import type { Principals } from '../../protocol/index.js';

/**
 * Where a task's endpoint is served, so the runners reach the right agents: a mapped endpoint
 * by its own agents; a guest collection by its host's agents, naming the collection (the
 * session side then carries `guest`). `refused` when the endpoint can no longer be used
 * (deleted, or a guest collection whose host was deleted).
 */
export type EndpointRoute =
  | { agentEndpointId: string; collectionId: string | null }
  | { refused: string };

export interface TaskEndpoints {
  route(endpointId: string): EndpointRoute;
  /** The principals of a task owner's account for the agents serving `collectionId` (null: a mapped endpoint), computed fresh for each attempt. */
  principals(ownerId: string, collectionId: string | null): Principals;
  /** Whether an endpoint (or a guest collection's host) has force_encryption; absent: none does. */
  forcesEncryption?(endpointIds: readonly string[]): boolean;
}

/** Without sharing: every endpoint is served by its own agents, and the owner's id is all the agent learns. */
export const DIRECT_ENDPOINTS: TaskEndpoints = {
  route: (endpointId) => ({ agentEndpointId: endpointId, collectionId: null }),
  principals: (ownerId) => ({ identityId: ownerId, linkedIdentityIds: [], groupIds: [], authenticated: true }),
};

/** The agent endpoint of a route, or null when refused. */
export function agentEndpointOf(route: EndpointRoute): string | null {
  return 'refused' in route ? null : route.agentEndpointId;
}
