import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HTTP_LIMITS } from './api/server-options.js';
import { DEFAULT_USER_LIMITS } from './api/user-limits.js';
import { DEFAULT_AUTH_TUNING } from './auth/tuning.js';
import { DEFAULT_TASK_LIMITS } from './tasks/limits.js';

/** The control service's config file, declared once (see config/control.example.json). */
export const ControlConfig = Type.Object({
  version: Type.Literal(1),
  /** Where the CA, server certificate and SQLite database live. */
  dataDir: Type.String({ minLength: 1, maxLength: 4096 }),
  listen: Type.Object({
    host: Type.String({ minLength: 1, maxLength: 255, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 7750 }),
  }, { additionalProperties: false, default: {} }),
  /**
   * The URL agents and clients use to reach control; it goes into setup keys. Defaults to
   * https://<listen.host>:<port>.
   */
  publicUrl: Type.Optional(Type.String({ pattern: '^https://', maxLength: 1024 })),
  tls: Type.Object({
    /** Admin-supplied server certificate and key (PEM). When absent, control issues its own from its CA. */
    certFile: Type.Optional(Type.String({ minLength: 1 })),
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Extra DNS names or IP addresses for the self-issued server certificate. */
    extraNames: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { default: [], maxItems: 64 }),
  }, { additionalProperties: false, default: {} }),
  setupKeyTtlSeconds: Type.Integer({ minimum: 60, default: 86_400 }),
  /** How long control waits for an agent to answer a file operation. */
  opTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
  heartbeatIntervalMs: Type.Integer({ minimum: 100, default: 15_000 }),
  /** Task orchestration: how failed sessions are retried and when a silent one is abandoned. */
  tasks: Type.Object({
    /** First retry delay after a transient failure; doubles per consecutive failure. */
    retryInitialMs: Type.Integer({ minimum: 10, default: 2000 }),
    /** The retry delay never grows beyond this. */
    retryMaxMs: Type.Integer({ minimum: 10, default: 300_000 }),
    /** A session that reports nothing for this long is abandoned and retried (GridFTP -stall-timeout). */
    stallTimeoutMs: Type.Integer({ minimum: 100, default: 600_000 }),
    /** How often deadlines, retries and stalls are checked. */
    tickMs: Type.Integer({ minimum: 10, default: 1000 }),
    /** Unexpected errors (InternalError, a peer's protocol error, …) are retried this many times in a row, then the task fails. */
    unexpectedErrorRetries: Type.Integer({ minimum: 0, maximum: 1000, default: DEFAULT_TASK_LIMITS.unexpectedErrorRetries }),
  }, { additionalProperties: false, default: {} }),
  /** Per-identity limits, so one user cannot starve the others (Globus has the same kind). */
  limits: Type.Object({
    /** File operations (ls, stat, mkdir, rename) one identity may have in flight on one endpoint. */
    fileOpsPerEndpoint: Type.Integer({ minimum: 1, maximum: 10_000, default: DEFAULT_USER_LIMITS.fileOpsPerEndpoint }),
    /** File operations one identity may have in flight on all endpoints together. */
    fileOpsPerUser: Type.Integer({ minimum: 1, maximum: 100_000, default: DEFAULT_USER_LIMITS.fileOpsPerUser }),
    /** Active (not yet finished) tasks one account (its linked identities together) may have; Globus allows 100 pending tasks. */
    activeTasksPerUser: Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_USER_LIMITS.activeTasksPerUser }),
    /** Changes to access rules and roles of guest collections one identity may make per minute. */
    sharingChangesPerMinute: Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_USER_LIMITS.sharingChangesPerMinute }),
    /** Access-rule notification e-mails one identity may have sent per hour. */
    notificationsPerHour: Type.Integer({ minimum: 0, maximum: 1_000_000, default: DEFAULT_USER_LIMITS.notificationsPerHour }),
  }, { additionalProperties: false, default: {} }),
  /** Ferry Auth's lifetimes and login rate limit (FERRY_AUTH_TUNING, for tests, goes on top). */
  auth: Type.Object({
    /** Access tokens (Transfer, Groups, Auth, resource servers'); Globus issues 48-hour ones. */
    accessTokenTtlSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, default: DEFAULT_AUTH_TUNING.accessTokenTtlSeconds }),
    /** Refresh tokens (rotated on every use); null: they end only by revocation. */
    refreshTokenTtlSeconds: Type.Union([Type.Integer({ minimum: 1, maximum: 315_360_000 }), Type.Null()], { default: DEFAULT_AUTH_TUNING.refreshTokenTtlSeconds }),
    /** Authorization codes (single use). */
    codeTtlSeconds: Type.Integer({ minimum: 1, maximum: 600, default: DEFAULT_AUTH_TUNING.codeTtlSeconds }),
    /** OpenID Connect id_tokens. */
    idTokenTtlSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, default: DEFAULT_AUTH_TUNING.idTokenTtlSeconds }),
    /** The browser sign-in session at the login pages. */
    sessionTtlSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, default: DEFAULT_AUTH_TUNING.sessionTtlSeconds }),
    /** An authorize request waiting on the login and consent pages. */
    interactionTtlSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: DEFAULT_AUTH_TUNING.interactionTtlSeconds }),
    /** Login attempts (POSTs to the login page) per client address per window. */
    loginRateLimit: Type.Object({
      max: Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_AUTH_TUNING.loginRateLimit.max }),
      windowMs: Type.Integer({ minimum: 1000, maximum: 86_400_000, default: DEFAULT_AUTH_TUNING.loginRateLimit.windowMs }),
    }, { additionalProperties: false, default: {} }),
  }, { additionalProperties: false, default: {} }),
  /** The HTTPS server's protection against idle, slow and too many connections. */
  http: Type.Object({
    /** A client must send a request's headers within this (slow-loris). At most requestTimeoutMs. */
    headersTimeoutMs: Type.Integer({ minimum: 100, default: DEFAULT_HTTP_LIMITS.headersTimeoutMs }),
    /** A client must send a whole request (headers and body) within this. */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: DEFAULT_HTTP_LIMITS.requestTimeoutMs }),
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, default: DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs }),
    /** A TLS handshake must complete within this. */
    tlsHandshakeTimeoutMs: Type.Integer({ minimum: 100, default: DEFAULT_HTTP_LIMITS.tlsHandshakeTimeoutMs }),
    /** Open connections (API clients and agent links together); more are closed at once. */
    maxConnections: Type.Integer({ minimum: 1, default: DEFAULT_HTTP_LIMITS.maxConnections }),
  }, { additionalProperties: false, default: {} }),
  /**
   * Mail server for notifications (access rules created with notify_email). Absent: messages
   * are only recorded in the outbox. `password` is a secret: never logged (pino redacts it).
   */
  smtp: Type.Optional(Type.Object({
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
    /** The From: address, e.g. "Ferry <ferry@example.org>". */
    from: Type.String({ minLength: 3, maxLength: 320 }),
    /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. */
    secure: Type.Boolean({ default: false }),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    /** First retry delay after a failed send; doubles per attempt. */
    retryInitialMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 60_000 }),
    /** A message is given up after this many failed attempts. */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 8 }),
    /** How often the outbox is checked for due messages (new ones are sent at once). */
    pollMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 30_000 }),
  }, { additionalProperties: false })),
  log: Type.Object({
    level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal'), Type.Literal('silent')], { default: 'info' }),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false });
export type ControlConfig = Static<typeof ControlConfig>;
