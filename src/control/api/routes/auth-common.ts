import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFerryError } from '../../../common/errors.js';
import type { Identity } from '../../auth/accounts.js';
import { AuthError, forbidden, unauthorized } from '../../auth/errors.js';
import type { AuthService } from '../../auth/service.js';
import type { Api } from '../context.js';
import { builtinResourceServer } from '../../auth/scopes.js';
import { TokenRepo } from '../../store/tokens.js';

/** A caller of the Auth or Groups API, from its bearer token. */
export interface AuthCaller {
  identity: Identity;
  clientId: string;
  scopes: string[];
}

/** Check `Authorization: Bearer` for an active token of `resourceServer` holding one of `anyScope`. */
export function bearer(req: FastifyRequest, auth: AuthService, resourceServer: string, anyScope: readonly string[]): AuthCaller {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) throw unauthorized();
  const rec = auth.grants.lookup(m[1]!);
  if (!rec) return personalBearer(m[1]!, auth, resourceServer, anyScope);
  if (rec.kind !== 'access' || rec.revokedAt !== null || (rec.expiresAt !== null && rec.expiresAt <= Date.now())) throw unauthorized('Token is not active');
  const identity = auth.accounts.identity(rec.identityId);
  if (!identity || identity.status !== 'used') throw unauthorized('Token is not active');
  if (rec.resourceServer !== resourceServer) throw forbidden(`Token is for resource server '${rec.resourceServer}', not ${resourceServer}`);
  if (anyScope.length && !anyScope.some((s) => rec.scopes.includes(s))) throw forbidden(`Token needs one of the scopes: ${anyScope.join(' ')}`);
  return { identity, clientId: rec.clientId, scopes: rec.scopes };
}

/**
 * An admin-minted personal token (`ferry control token issue --resource-server`): active, of
 * this resource server by its scopes, holding one of `anyScope`. A Transfer personal token sent
 * here is a token of another resource server (403), not an unknown one.
 */
function personalBearer(token: string, auth: AuthService, resourceServer: string, anyScope: readonly string[]): AuthCaller {
  const found = new TokenRepo(auth.db).lookup(token);
  if (found.status !== 'active') throw unauthorized(found.status === 'unknown' ? 'Token is not active' : `Token is ${found.status}`);
  const identity = auth.accounts.identity(found.token.identityId);
  if (!identity || identity.status !== 'used') throw unauthorized('Token is not active');
  const servers = new Set(found.token.scopes.map((s) => builtinResourceServer(s) ?? ''));
  if (!servers.has(resourceServer)) throw forbidden(`Token is for resource server '${[...servers].join(' ')}', not ${resourceServer}`);
  if (anyScope.length && !anyScope.some((s) => found.token.scopes.includes(s))) throw forbidden(`Token needs one of the scopes: ${anyScope.join(' ')}`);
  return { identity, clientId: 'personal-token', scopes: [...found.token.scopes] };
}

/** Auth and Groups routes answer errors in Globus Auth's shape (errors/error/error_description). */
export function installAuthErrorHandler(scope: Api): void {
  scope.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req: FastifyRequest, reply: FastifyReply) => {
    let e: AuthError;
    if (err instanceof AuthError) e = err;
    else if (err.statusCode === 429) e = new AuthError(429, 'too_many_requests', 'Too many attempts; wait a minute and try again');
    else if (isFerryError(err) && err.status < 500) e = new AuthError(err.status, err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : 'invalid_request', err.message);
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) e = new AuthError(400, 'invalid_request', err.message);
    else {
      req.log.error({ err }, 'unhandled error in an Auth route');
      e = new AuthError(500 as number, 'invalid_request', 'internal error');
    }
    if (e.status === 401) void reply.header('WWW-Authenticate', e.error === 'invalid_client' ? 'Basic realm="ferry"' : 'Bearer');
    return reply.code(e.status).type('application/json').send(e.toDocument());
  });
}

/** Form bodies arrive as strings; anything repeated or not a string is refused. */
export function formOf(body: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (body === null || typeof body !== 'object') return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (v !== undefined) throw new AuthError(400, 'invalid_request', `parameter '${k}' must appear once`);
  }
  return out;
}
