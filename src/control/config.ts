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
  log: Type.Object({
    level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal'), Type.Literal('silent')], { default: 'info' }),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false });
export type ControlConfig = Static<typeof ControlConfig>;
