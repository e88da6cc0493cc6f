import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino must never print. Tokens, setup keys and private keys can appear in request
 * bodies, link messages and configs; redaction is the last line of defence, callers should
 * not log them in the first place.
 */
export const REDACT_PATHS = [
  'token', '*.token', 'access_token', '*.access_token',
  'setupKey', '*.setupKey', 'setup_key', '*.setup_key',
  'globus_connect_setup_key', '*.globus_connect_setup_key',
  'secret', '*.secret', 'privateKey', '*.privateKey', 'keyPem', '*.keyPem',
  'req.headers.authorization', 'headers.authorization', 'authorization',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env['FERRY_LOG_LEVEL'] ?? 'info';
  const opts = { level, name: options.name ?? 'ferry', redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return options.destination ? pino(opts, options.destination) : pino(opts, pino.destination({ dest: 2, sync: false }));
}

/** A logger that prints nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
