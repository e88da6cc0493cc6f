import { fastify } from 'fastify';
import cors from '@fastify/cors';
import type { SecureContextOptions } from 'node:tls';
import type { Api, ApiContext } from './context.js';
import { installErrorHandlers } from './errors.js';
import { registerAgentRoutes } from './routes/agent-registration.js';
import { registerEndpointRoutes } from './routes/endpoints.js';
import { registerOperationRoutes } from './routes/operations.js';
import { registerTaskRoutes } from './routes/tasks.js';

export interface ApiTls {
  key: string;
  cert: string;
  /** CA that agent client certificates must chain to. */
  ca: string;
}

/** Turn a route pattern like /v0.10/endpoint/:id into a RegExp, for the 405 check. */
function patternOf(url: string): RegExp {
  const re = url.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  return new RegExp(`^${re}/?$`);
}

/**
 * The HTTPS server: Globus-compatible REST plus the agent routes. Client certificates are
 * requested but optional at the TLS layer (people and SDKs have none); the agent hub checks
 * them on the link upgrade.
 */
export function buildApi(ctx: ApiContext, tls: ApiTls): Api {
  const httpsOptions: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } = {
    key: tls.key, cert: tls.cert, ca: [tls.ca], requestCert: true, rejectUnauthorized: false,
  };
  const app = fastify({
    https: httpsOptions,
    loggerInstance: ctx.log.child({ component: 'api' }),
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    // Globus clients may send trailing slashes.
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as Api;
  const routes: Array<{ pattern: RegExp }> = [];
  app.addHook('onRoute', (r) => {
    // The CORS plugin's catch-all OPTIONS route must not make every path look like a route.
    if (!r.url.includes('*')) routes.push({ pattern: patternOf(r.url) });
  });
  installErrorHandlers(app, () => routes);
  // Browser apps using @globus/sdk send a preflight (Authorization, JSON, X-Globus-Client-Info).
  // Bearer tokens, not cookies, authenticate, so any origin may call.
  void app.register(cors, {
    origin: '*',
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-globus-client-info'],
    maxAge: 600,
  });
  registerAgentRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
  registerOperationRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  app.server.on('upgrade', (req, socket, head) => ctx.hub.handleUpgrade(req, socket, head));
  return app;
}
