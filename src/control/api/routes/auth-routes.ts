import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import { authFor } from '../../auth/service.js';
import { OAuthServer } from '../../auth/oauth.js';
import type { Api, ApiContext } from '../context.js';
import { installAuthErrorHandler } from './auth-common.js';
import { registerAuthClientRoutes } from './auth-clients.js';
import { registerAuthOAuthRoutes } from './auth-oauth.js';
import { registerAuthWebRoutes } from './auth-web.js';
import { registerGroupRoutes } from './groups-api.js';

/**
 * Ferry Auth (Globus Auth API v2 shapes) and Groups (Globus Groups API v2 shapes), in their own
 * fastify scope: form bodies, the login rate limit and Globus Auth's error documents stay here
 * and do not change the Transfer routes.
 */
export function registerAuthRoutes(app: Api, ctx: ApiContext): void {
  const auth = authFor(ctx.store.db);
  const oauth = new OAuthServer(auth);
  void app.register(async (plugin) => {
    const scope = plugin as unknown as Api;
    // Control learns its public URL only once it listens.
    scope.addHook('onRequest', async () => { auth.issuer = ctx.publicUrl; });
    await scope.register(formbody, { bodyLimit: 64 * 1024 });
    await scope.register(rateLimit, { global: false });
    installAuthErrorHandler(scope);
    const limit = { max: auth.tuning.loginRateLimit.max, timeWindow: auth.tuning.loginRateLimit.windowMs };
    registerAuthOAuthRoutes(scope, auth, oauth);
    registerAuthClientRoutes(scope, auth);
    registerAuthWebRoutes(scope, auth, limit);
    registerGroupRoutes(scope, auth);
  });
}
