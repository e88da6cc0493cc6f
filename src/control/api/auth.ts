import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../common/errors.js';
import type { ControlStore, IdentityRecord, TokenRecord } from '../store/index.js';
import type { Principals } from '../../protocol/index.js';

/** Opaque tokens are base64url; anything else is malformed before a lookup is spent on it. */
const TOKEN_SHAPE = /^[A-Za-z0-9_\-.~+/]{16,512}={0,2}$/;

export interface Caller {
  identity: IdentityRecord;
  token: TokenRecord;
}

/** Resolve `Authorization: Bearer <token>` to an identity, or throw a 401 in the Globus shape. */
export function authenticate(req: FastifyRequest, store: ControlStore, requiredScope: string): Caller {
  const header = req.headers.authorization;
  if (header === undefined || header === '') {
    throw new FerryError('ClientError.AuthenticationFailed', 'No Authorization header; send "Authorization: Bearer <token>"');
  }
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m || !TOKEN_SHAPE.test(m[1]!)) {
    throw new FerryError('ClientError.AuthenticationFailed', 'Malformed Authorization header; expected "Bearer <token>"');
  }
  const found = store.tokens.lookup(m[1]!);
  if (found.status !== 'active') {
    const why = found.status === 'unknown' ? 'Token is not valid' : `Token is ${found.status}`;
    throw new FerryError('ClientError.AuthenticationFailed', why);
  }
  if (!found.token.scopes.includes(requiredScope)) {
    throw new FerryError('ClientError.AuthenticationFailed', `Token lacks the scope ${requiredScope}`);
  }
  const identity = store.identities.byId(found.token.identityId);
  if (!identity) throw new FerryError('ClientError.AuthenticationFailed', 'Token identity no longer exists');
  return { identity, token: found.token };
}

export function principalsOf(caller: Caller): Principals {
  return { identityId: caller.identity.id, linkedIdentityIds: [], groupIds: [], authenticated: true };
}
