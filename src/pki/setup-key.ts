import { FerryError } from '../common/errors.js';
import { assertSchema } from '../common/validate.js';
import { MAX_SETUP_KEY_CHARS, SETUP_KEY_PREFIX, SetupKeyPayload } from '../protocol/setup-key.js';

const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;

function invalid(message: string): FerryError {
  return new FerryError('SetupKey.Invalid', message);
}

/** `ferry1_` + base64url(JSON); the payload is validated so control never hands out a key agents reject. */
export function encodeSetupKey(payload: SetupKeyPayload): string {
  // Fixed key order and no extra keys: the same payload always gives the same string.
  const clean = { u: payload.u, h: payload.h, s: payload.s };
  assertSchema(SetupKeyPayload, clean, 'SetupKey.Invalid', 'setup key payload');
  const key = SETUP_KEY_PREFIX + Buffer.from(JSON.stringify(clean), 'utf8').toString('base64url');
  if (key.length > MAX_SETUP_KEY_CHARS) throw invalid(`setup key would be ${key.length} characters; at most ${MAX_SETUP_KEY_CHARS}`);
  return key;
}

/**
 * Decode and validate a setup key as a person pasted it (surrounding whitespace is ignored).
 * Every failure is SetupKey.Invalid with a message that says what is wrong, never the key.
 */
export function decodeSetupKey(key: string): SetupKeyPayload {
  if (typeof key !== 'string') throw invalid('setup key must be a string');
  if (key.length > MAX_SETUP_KEY_CHARS + 64) throw invalid(`setup key is too long (${key.length} characters; at most ${MAX_SETUP_KEY_CHARS})`);
  const text = key.trim();
  if (text.length > MAX_SETUP_KEY_CHARS) throw invalid(`setup key is too long (${text.length} characters; at most ${MAX_SETUP_KEY_CHARS})`);
  if (!text.startsWith(SETUP_KEY_PREFIX)) throw invalid(`setup key must start with '${SETUP_KEY_PREFIX}' (was it copied whole?)`);
  const body = text.slice(SETUP_KEY_PREFIX.length);
  // Buffer.from(…, 'base64url') skips characters it does not know; check strictly first, and
  // insist on the canonical encoding so a truncated or padded key is caught here.
  const bytes = BASE64URL_RE.test(body) ? Buffer.from(body, 'base64url') : null;
  if (bytes === null || bytes.toString('base64url') !== body) throw invalid('setup key is not valid base64url after the prefix (truncated or mistyped?)');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw invalid('setup key does not contain valid JSON');
  }
  return assertSchema(SetupKeyPayload, value, 'SetupKey.Invalid', 'setup key content is invalid');
}
