import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino must never print. Tokens, setup keys and private keys can appear in request
 * bodies, link messages and configs; redaction is the last line of defence, callers should
 * not log them in the first place.
 */
export const REDACT_PATHS = [
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'id_token', '*.id_token',
  'setupKey', '*.setupKey', 'setup_key', '*.setup_key',
  'globus_connect_setup_key', '*.globus_connect_setup_key',
  'secret', '*.secret', 'client_secret', '*.client_secret', 'password', '*.password',
  'privateKey', '*.privateKey', 'keyPem', '*.keyPem',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'headers.cookie', '*.headers.cookie',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
];

/**
 * A request as logged: the path without its query string. Tokens arrive as `?access_token=`
 * (OAuth2 allows it) and redaction cannot reach inside a URL, so the query is never logged.
 * Used for every `req` logged through these loggers, fastify's request log lines included.
 */
export function requestForLog(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string | undefined; remotePort?: number | undefined } | null }): Record<string, unknown> {
  const url = typeof req.url === 'string' ? req.url : '';
  const q = url.indexOf('?');
  return {
    method: req.method,
    url: q < 0 ? url : url.slice(0, q),
    ...(q < 0 ? {} : { query: '[redacted]' }),
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env['FERRY_LOG_LEVEL'] ?? 'info';
  const opts = {
    level, name: options.name ?? 'ferry', redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { req: requestForLog, err: pino.stdSerializers.err },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts, pino.destination({ dest: 2, sync: false }));
}

/** A logger that prints nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
