import { Type, type Static } from '@sinclair/typebox';

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
  }, { additionalProperties: false, default: {} }),
  log: Type.Object({
    level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal'), Type.Literal('silent')], { default: 'info' }),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false });
export type ControlConfig = Static<typeof ControlConfig>;
