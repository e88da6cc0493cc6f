import type { FastifyRequest } from 'fastify';
import { checkRedirectUri, type ClientRecord } from '../../auth/clients.js';
import { clientDoc } from '../../auth/documents.js';
import { AuthError, badRequest, notFound } from '../../auth/errors.js';
import { SCOPES } from '../../auth/scopes.js';
import type { AuthService } from '../../auth/service.js';
import type { Api } from '../context.js';
import { bearer, type AuthCaller } from './auth-common.js';
import { AUTH_RS } from '../../auth/scopes.js';

interface ClientBody { name?: unknown; public_client?: unknown; redirect_uris?: unknown }

function parseBody(body: unknown, creating: boolean): { name?: string; public?: boolean; redirectUris?: string[] } {
  const wrapper = (body ?? {}) as { client?: ClientBody };
  const c = wrapper.client;
  if (!c || typeof c !== 'object') throw badRequest('Body must be {"client": {...}}');
  const out: { name?: string; public?: boolean; redirectUris?: string[] } = {};
  if (c.name !== undefined) {
    if (typeof c.name !== 'string' || c.name.trim() === '' || c.name.length > 100) throw badRequest('client.name must be 1-100 characters');
    out.name = c.name.trim();
  } else if (creating) throw badRequest('client.name is required');
  if (c.public_client !== undefined) {
    if (typeof c.public_client !== 'boolean') throw badRequest('client.public_client must be a boolean');
    if (!creating) throw badRequest('public_client cannot be changed');
    out.public = c.public_client;
  }
  if (c.redirect_uris !== undefined) {
    if (!Array.isArray(c.redirect_uris) || c.redirect_uris.length > 50 || !c.redirect_uris.every((u) => typeof u === 'string')) {
      throw badRequest('client.redirect_uris must be a list of URLs');
    }
    try {
      (c.redirect_uris as string[]).forEach(checkRedirectUri);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    out.redirectUris = c.redirect_uris as string[];
  }
  return out;
}

/** Globus Auth's client registration API (/v2/api/clients), for clients the caller owns. */
export function registerAuthClientRoutes(app: Api, auth: AuthService): void {
  const caller = (req: FastifyRequest): AuthCaller => bearer(req, auth, AUTH_RS, []);
  const owned = (c: AuthCaller, id: string): ClientRecord => {
    const rec = auth.clients.byId(id);
    const mine = auth.accounts.identitySet(c.identity.id).map((i) => i.id);
    if (!rec || rec.disabled || rec.ownerId === null || !mine.includes(rec.ownerId)) throw notFound(`No client with id '${id}'`);
    return rec;
  };

  app.post('/v2/api/clients', async (req, reply) => {
    const c = caller(req);
    if (!c.scopes.includes(SCOPES.openid) && !c.scopes.includes(SCOPES.viewIdentities)) throw new AuthError(403, 'forbidden', 'Registering clients needs a user token');
    const input = parseBody(req.body, true);
    const { client, secret } = auth.clients.create({
      name: input.name!, public: input.public ?? false, redirectUris: input.redirectUris ?? [], ownerId: c.identity.id,
    });
    void reply.code(201);
    const doc: Record<string, unknown> = { client: clientDoc(client) };
    if (secret !== undefined) {
      doc['included'] = { client_credential: { id: client.id, client: client.id, name: 'auto-created', secret, created: new Date(client.createdAt).toISOString() } };
    }
    return doc;
  });

  app.get('/v2/api/clients', async (req) => {
    const c = caller(req);
    const mine = auth.accounts.identitySet(c.identity.id).map((i) => i.id);
    return { clients: mine.flatMap((id) => auth.clients.list(id)).filter((x) => !x.disabled).map(clientDoc) };
  });

  app.get<{ Params: { id: string } }>('/v2/api/clients/:id', async (req) => ({ client: clientDoc(owned(caller(req), req.params.id)) }));

  app.put<{ Params: { id: string } }>('/v2/api/clients/:id', async (req) => {
    const rec = owned(caller(req), req.params.id);
    const input = parseBody(req.body, false);
    return { client: clientDoc(auth.clients.update(rec.id, { ...(input.name ? { name: input.name } : {}), ...(input.redirectUris ? { redirectUris: input.redirectUris } : {}) })) };
  });

  app.delete<{ Params: { id: string } }>('/v2/api/clients/:id', async (req) => {
    const rec = owned(caller(req), req.params.id);
    auth.clients.disable(rec.id);
    return { client: clientDoc({ ...rec, disabled: true }) };
  });
}
