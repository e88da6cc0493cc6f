import type { AccessPermissions, GuestCollection, Principals, SharingRule } from '../../protocol/index.js';

/**
 * What a guest may do at a path of a guest collection, decided from the agent's replica of
 * its rules (globus-api.md §3): rules only add, so the permission at a path is the union of
 * the unexpired rules on it and on its ancestors whose principal is the requester (any of her
 * linked identities, any of her groups, all authenticated users, anyone); the owner's account
 * and holders of the administrator and access_manager roles have rw on '/'. Paths are matched
 * on whole components ('/data/' never grants '/data2/').
 */

export type Access = 'none' | 'r' | 'rw';

/** A rule as the agent applies it: its path as components below the collection's root. */
export interface CompiledRule {
  readonly rule: SharingRule;
  readonly components: readonly string[];
}

/**
 * A rule's path as components, or null when it could leave its collection or is not a clean
 * absolute path: such a rule is refused whatever control says (it grants nothing).
 */
export function ruleComponents(path: string): string[] | null {
  if (!path.startsWith('/') || path.includes('\0') || /\p{Cs}/u.test(path)) return null;
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) return null;
  return parts;
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((c, i) => path[i] === c);
}

function identities(p: Principals): string[] {
  return p.identityId === null ? [...p.linkedIdentityIds] : [p.identityId, ...p.linkedIdentityIds];
}

function matchesPrincipal(type: SharingRule['principalType'], principal: string, p: Principals, ids: readonly string[]): boolean {
  switch (type) {
    case 'identity': return ids.includes(principal);
    case 'group': return p.groupIds.includes(principal);
    case 'all_authenticated_users': return p.authenticated;
    case 'anonymous': return true;
  }
}

export function accessAt(collection: GuestCollection, rules: readonly CompiledRule[], principals: Principals, path: readonly string[], now: number): Access {
  const ids = identities(principals);
  if (ids.includes(collection.ownerId)) return 'rw';
  if (collection.managers.some((m) => matchesPrincipal(m.principalType, m.principal, principals, ids))) return 'rw';
  let access: Access = 'none';
  for (const { rule, components } of rules) {
    if (rule.expiresAt !== null && rule.expiresAt <= now) continue;
    if (!startsWith(path, components)) continue;
    if (!matchesPrincipal(rule.principalType, rule.principal, principals, ids)) continue;
    if (rule.permissions === 'rw') return 'rw';
    access = 'r';
  }
  return access;
}

export function allows(access: Access, wanted: AccessPermissions): boolean {
  return wanted === 'r' ? access !== 'none' : access === 'rw';
}
