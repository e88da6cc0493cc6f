import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../common/errors.js';
import type { ControlStore, IdentityRecord, TokenRecord } from '../store/index.js';
import type { Principals } from '../../protocol/index.js';
import { accountPrincipals, authFor, checkAccessToken, TRANSFER_RS } from '../auth/index.js';

/** Opaque tokens are base64url; anything else is malformed before a lookup is spent on it. */
const TOKEN_SHAPE = /^[A-Za-z0-9_\-.~+/]{16,512}={0,2}$/;

export interface Caller {
  /** The account's primary identity (owner of what the caller creates). */
  identity: IdentityRecord;
  token: TokenRecord;
  /** Every identity of the caller's account, and the groups they are active members of. */
  linkedIdentityIds?: string[];
  groupIds?: string[];
}

/**
 * Resolve `Authorization: Bearer <token>` to an account, or throw in the Globus shape: 401 for
 * a missing, unknown, revoked or expired token, 403 for a token of another resource server.
 * Ferry Auth's OAuth2 tokens are checked in-process; admin-minted personal tokens keep working
 * with Transfer scope.
 */
export function authenticate(req: FastifyRequest, store: ControlStore, requiredScope: string): Caller {
  const header = req.headers.authorization;
  if (header === undefined || header === '') {
    throw new FerryError('ClientError.AuthenticationFailed', 'No Authorization header; send "Authorization: Bearer <token>"');
  }
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m || !TOKEN_SHAPE.test(m[1]!)) {
    throw new FerryError('ClientError.AuthenticationFailed', 'Malformed Authorization header; expected "Bearer <token>"');
  }
  const auth = authFor(store.db);
  let token: TokenRecord;
  const oauth = checkAccessToken(auth, m[1]!, TRANSFER_RS);
  if (oauth.status === 'inactive') throw new FerryError('ClientError.AuthenticationFailed', oauth.reason);
  if (oauth.status === 'wrong_resource_server') {
    throw new FerryError('PermissionDenied', `Token is for resource server '${oauth.resourceServer}', not ${TRANSFER_RS}`);
  }
  if (oauth.status === 'active') {
    if (!oauth.scopes.includes(requiredScope)) throw new FerryError('PermissionDenied', `Token lacks the scope ${requiredScope}`);
    token = { identityId: oauth.identityId, scopes: oauth.scopes, createdAt: oauth.createdAt, expiresAt: oauth.expiresAt };
  } else {
    const found = store.tokens.lookup(m[1]!);
    if (found.status !== 'active') {
      const why = found.status === 'unknown' ? 'Token is not valid' : `Token is ${found.status}`;
      throw new FerryError('ClientError.AuthenticationFailed', why);
    }
    // A personal token for Auth or Groups: a token of another resource server, as for OAuth ones.
    if (!found.token.scopes.includes(requiredScope)) throw new FerryError('PermissionDenied', `Token lacks the scope ${requiredScope}`);
    token = found.token;
  }
  const principals = accountPrincipals(auth, token.identityId);
  const identity = store.identities.byId(principals.primaryId);
  if (!identity) throw new FerryError('ClientError.AuthenticationFailed', 'Token identity no longer exists');
  if (auth.accounts.identity(token.identityId)?.status === 'closed') throw new FerryError('ClientError.AuthenticationFailed', 'Token identity is disabled');
  return { identity, token, linkedIdentityIds: principals.identityIds.filter((id) => id !== identity.id), groupIds: principals.groupIds };
}

/**
 * Every identity id of the caller's account, the primary first. What any of them owns (an
 * endpoint or task created before the identities were linked) is the account's.
 */
export function accountIdentityIds(caller: Caller): string[] {
  const ids = [caller.identity.id];
  for (const id of caller.linkedIdentityIds ?? []) if (!ids.includes(id)) ids.push(id);
  return ids;
}

/** Whether an object owned by `ownerId` belongs to the caller's account. */
export function ownedByAccount(caller: Caller, ownerId: string): boolean {
  return ownerId === caller.identity.id || (caller.linkedIdentityIds ?? []).includes(ownerId);
}

export function principalsOf(caller: Caller): Principals {
  return { identityId: caller.identity.id, linkedIdentityIds: caller.linkedIdentityIds ?? [], groupIds: caller.groupIds ?? [], authenticated: true };
}
