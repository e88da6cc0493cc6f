import { SHARING_MANAGER_ROLES, type GuestCollection } from '../../protocol/index.js';
import type { ControlStore, EndpointRecord } from '../store/index.js';

/**
 * A guest collection as its host's agent replicates it (src/protocol/sharing.ts): host path,
 * owner, enabled flag, manager role holders and every rule, expired ones included (the agent
 * ignores them after `expiresAt`).
 */
export function guestCollectionOf(store: ControlStore, guest: EndpointRecord): GuestCollection {
  const host = guest.hostEndpointId === null ? undefined : store.endpoints.get(guest.hostEndpointId);
  const managerRoles: readonly string[] = SHARING_MANAGER_ROLES;
  const managers = new Map<string, GuestCollection['managers'][number]>();
  for (const r of store.roles.list(guest.id)) {
    if (managerRoles.includes(r.role)) managers.set(`${r.principalType}:${r.principal}`, { principalType: r.principalType, principal: r.principal });
  }
  return {
    id: guest.id,
    hostPath: guest.hostPath ?? '/',
    ownerId: guest.ownerId,
    enabled: guest.deletedAt === null && host !== undefined && host.deletedAt === null,
    managers: [...managers.values()],
    rules: store.accessRules.list(guest.id).map((r) => ({
      id: r.id, principalType: r.principalType, principal: r.principal, path: r.path, permissions: r.permissions, expiresAt: r.expirationDate,
    })),
  };
}

/** Every live guest collection of a host and the version they make, read in one transaction. */
export function hostSnapshot(store: ControlStore, hostEndpointId: string): { version: number; collections: GuestCollection[] } {
  return store.db.transaction(() => ({
    version: store.sharingVersions.current(hostEndpointId),
    collections: store.endpoints.guestsOf(hostEndpointId).map((g) => guestCollectionOf(store, g)),
  }))();
}
