import { fastify } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FerryError } from '../../common/errors.js';
import type { Api, ApiContext } from './context.js';
import { installErrorHandlers } from './errors.js';
import { registerAgentRoutes } from './routes/agent-registration.js';
import { registerAuthRoutes } from './routes/auth-routes.js';
import { registerActivationRoutes } from './routes/activation.js';
import { registerEndpointRoutes } from './routes/endpoints.js';
import { registerEndpointSearchRoutes } from './routes/endpoint-search.js';
import { registerSharedEndpointRoutes } from './routes/shared-endpoints.js';
import { registerAccessRuleRoutes } from './routes/access-rules.js';
import { DEFAULT_USER_LIMITS, sharingLimiters } from './user-limits.js';
import { registerEndpointRoleRoutes } from './routes/endpoint-roles.js';
import { registerOperationRoutes } from './routes/operations.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { DEFAULT_HTTP_LIMITS, httpsServerOptions, type HttpLimits } from './server-options.js';

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
 * them on the link upgrade. TLS 1.2+ with forward-secret AEAD suites only; slow, idle and
 * surplus connections are closed (server-options.ts); every response carries HSTS, nosniff
 * and `Cache-Control: no-store`.
 */
export function buildApi(ctx: ApiContext, tls: ApiTls, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Api {
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new FerryError('Config.Invalid', `http.headersTimeoutMs (${limits.headersTimeoutMs}) must not exceed http.requestTimeoutMs (${limits.requestTimeoutMs})`);
  }
  const app = fastify({
    https: httpsServerOptions(tls, limits),
    // fastify sets these on the server after creating it, so they are given here too.
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    loggerInstance: ctx.log.child({ component: 'api' }),
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    // Globus clients may send trailing slashes.
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as Api;
  app.server.maxConnections = limits.maxConnections;
  // Node closes connections beyond maxConnections on accept; say so, at most every 10 s (a flood must not flood the log).
  let dropped = 0;
  let droppedLoggedAt = 0;
  app.server.on('drop', (data?: { remoteAddress?: string }) => {
    dropped++;
    if (Date.now() - droppedLoggedAt < 10_000) return;
    app.log.warn({ remote: data?.remoteAddress, dropped, maxConnections: limits.maxConnections }, 'connections refused: too many open connections');
    dropped = 0;
    droppedLoggedAt = Date.now();
  });
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
  void app.register(helmet, {
    // An API: there is nothing to render, frame or run.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    // Bearer tokens, not cookies: browser apps on any origin may read the answers (as CORS allows).
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    hsts: { maxAge: 365 * 24 * 3600, includeSubDomains: true },
  });
  // Answers carry tasks, listings and tokens' effects: no cache (browser or proxy) may keep them.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });
  registerAgentRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
  registerEndpointSearchRoutes(app, ctx);
  registerSharedEndpointRoutes(app, ctx);
  const limiters = sharingLimiters(ctx.userLimits ?? DEFAULT_USER_LIMITS);
  registerAccessRuleRoutes(app, ctx, limiters);
  registerEndpointRoleRoutes(app, ctx, limiters);
  registerOperationRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  registerAuthRoutes(app, ctx);
  registerActivationRoutes(app, ctx);
  // Node reaps slow headers only once a request has begun: a client that completes TLS and then
  // sends nothing would hold its connection for good. Until its first request it gets the
  // header timeout as an idle timeout (Node then destroys the socket); from then on Node's own
  // keep-alive and request timeouts apply, and agent links are idle-checked by their heartbeats.
  app.server.on('secureConnection', (socket: TLSSocket) => socket.setTimeout(limits.headersTimeoutMs));
  app.server.on('request', (req: IncomingMessage) => req.socket.setTimeout(0));
  app.server.on('upgrade', (req, socket, head) => {
    if (socket instanceof Socket) socket.setTimeout(0);
    ctx.hub.handleUpgrade(req, socket, head);
  });
  return app;
}
