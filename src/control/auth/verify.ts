import type { AuthService } from './service.js';

/**
 * Transfer's in-process check of an OAuth2 access token issued by Ferry Auth (the same checks
 * Globus's resource-server toolkit makes against introspection: active, unexpired, audience,
 * scope), plus the caller's principals for access rules: every identity of the account and the
 * groups any of them is an active member of.
 */
export type BearerCheck =
  | { status: 'unknown' }
  | { status: 'inactive'; reason: string }
  | { status: 'wrong_resource_server'; resourceServer: string }
  | { status: 'active'; identityId: string; scopes: string[]; createdAt: number; expiresAt: number | null };

export function checkAccessToken(auth: AuthService, token: string, resourceServer: string, now = Date.now()): BearerCheck {
  const rec = auth.grants.lookup(token);
  if (!rec) return { status: 'unknown' };
  if (rec.kind !== 'access') return { status: 'inactive', reason: 'A refresh token is not an access token' };
  if (rec.revokedAt !== null) return { status: 'inactive', reason: 'Token is revoked' };
  if (rec.expiresAt !== null && rec.expiresAt <= now) return { status: 'inactive', reason: 'Token is expired' };
  const identity = auth.accounts.identity(rec.identityId);
  if (!identity || identity.status !== 'used') return { status: 'inactive', reason: 'Token identity is disabled' };
  if (rec.resourceServer !== resourceServer) return { status: 'wrong_resource_server', resourceServer: rec.resourceServer };
  return { status: 'active', identityId: rec.identityId, scopes: rec.scopes, createdAt: rec.createdAt, expiresAt: rec.expiresAt };
}

export interface AccountPrincipals {
  /** The account's primary identity: what Transfer records as owner. */
  primaryId: string;
  identityIds: string[];
  groupIds: string[];
}

export function accountPrincipals(auth: AuthService, identityId: string): AccountPrincipals {
  const set = auth.accounts.identitySet(identityId);
  const ids = set.length ? set.map((i) => i.id) : [identityId];
  return { primaryId: set[0]?.accountId ?? identityId, identityIds: ids, groupIds: auth.groups.activeGroupIds(ids) };
}
