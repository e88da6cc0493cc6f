import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/common/errors.js';
import { decodeSetupKey, encodeSetupKey, type SetupKeyPayload } from '../../../src/pki/index.js';
import { MAX_SETUP_KEY_CHARS, SETUP_KEY_PREFIX } from '../../../src/protocol/setup-key.js';

const PAYLOAD: SetupKeyPayload = {
  u: 'https://127.0.0.1:7750',
  h: 'ab'.repeat(32),
  s: 'Zm9vYmFyLXNlY3JldC10b2tlbi0xMjM0NTY3ODkw',
};

const keyOf = (json: string): string => SETUP_KEY_PREFIX + Buffer.from(json, 'utf8').toString('base64url');

function rejected(key: unknown, message: RegExp): void {
  let caught: unknown;
  try {
    decodeSetupKey(key as string);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${String(key).slice(0, 40)} to be rejected`).toBeInstanceOf(FerryError);
  expect((caught as FerryError).code).toBe('SetupKey.Invalid');
  expect((caught as FerryError).message).toMatch(message);
  // The message must be safe to log and show: it never repeats the secret.
  expect((caught as FerryError).message).not.toContain(PAYLOAD.s);
}

describe('setup keys', () => {
  it('round-trips, deterministically, and ignores whitespace around a pasted key', () => {
    const key = encodeSetupKey(PAYLOAD);
    expect(key.startsWith('ferry1_')).toBe(true);
    expect(key).toMatch(/^ferry1_[A-Za-z0-9_-]+$/);
    expect(encodeSetupKey({ s: PAYLOAD.s, h: PAYLOAD.h, u: PAYLOAD.u })).toBe(key);
    expect(decodeSetupKey(key)).toEqual(PAYLOAD);
    expect(decodeSetupKey(`  ${key}\n`)).toEqual(PAYLOAD);
  });

  it('refuses to encode a payload agents would reject', () => {
    expect(() => encodeSetupKey({ ...PAYLOAD, u: 'http://127.0.0.1:7750' })).toThrow(/\/u/);
    expect(() => encodeSetupKey({ ...PAYLOAD, h: 'AB'.repeat(32) })).toThrow(/\/h/);
    expect(() => encodeSetupKey({ ...PAYLOAD, s: 'short' })).toThrow(/\/s/);
    expect(() => encodeSetupKey({ ...PAYLOAD, u: `https://${'a'.repeat(1400)}` })).toThrow(/\/u/);
  });

  it('rejects a key that is not a string or too long', () => {
    rejected(undefined, /must be a string/);
    rejected(42, /must be a string/);
    rejected(`${SETUP_KEY_PREFIX}${'A'.repeat(MAX_SETUP_KEY_CHARS)}`, /too long/);
    rejected('x'.repeat(1_000_000), /too long/);
  });

  it('rejects a wrong or missing prefix', () => {
    rejected('', /must start with 'ferry1_'/);
    rejected(encodeSetupKey(PAYLOAD).slice(SETUP_KEY_PREFIX.length), /must start with/);
    rejected(encodeSetupKey(PAYLOAD).replace('ferry1_', 'ferry2_'), /must start with/);
    rejected(encodeSetupKey(PAYLOAD).replace('ferry1_', 'FERRY1_'), /must start with/);
    rejected('9f8e7d6c-5b4a-3c2d-1e0f-a9b8c7d6e5f4', /must start with/);
  });

  it('rejects bad base64url: empty, foreign characters, padding, truncation', () => {
    const key = encodeSetupKey(PAYLOAD);
    rejected(SETUP_KEY_PREFIX, /not valid base64url/);
    rejected(`${key.slice(0, 20)}$${key.slice(21)}`, /not valid base64url/);
    rejected(`${key.slice(0, 20)} ${key.slice(20)}`, /not valid base64url/);
    rejected(`${SETUP_KEY_PREFIX}${Buffer.from('{"u":1}').toString('base64')}`, /not valid base64url/);
    rejected(`${SETUP_KEY_PREFIX}e30=`, /not valid base64url/);
    // One character too many or too few leaves a length no encoder produces.
    rejected(`${SETUP_KEY_PREFIX}e30xx`, /not valid base64url/);
    rejected(`${SETUP_KEY_PREFIX}e31`, /not valid base64url/);
  });

  it('rejects content that is not UTF-8 JSON', () => {
    rejected(keyOf('not json'), /valid JSON/);
    rejected(keyOf('{"u":"https://x'), /valid JSON/);
    rejected(SETUP_KEY_PREFIX + Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64url'), /valid JSON/);
    // Truncated on a 4-character boundary: still canonical base64url, but the JSON is cut off.
    const body = encodeSetupKey(PAYLOAD).slice(SETUP_KEY_PREFIX.length);
    rejected(SETUP_KEY_PREFIX + body.slice(0, Math.floor((body.length - 8) / 4) * 4), /valid JSON/);
  });

  it('rejects JSON that does not match the schema, naming the field', () => {
    const { u, h, s } = PAYLOAD;
    rejected(keyOf('[]'), /setup key content is invalid: \(root\): must be object/);
    rejected(keyOf('null'), /must be object/);
    rejected(keyOf('"ferry"'), /must be object/);
    rejected(keyOf(JSON.stringify({ u, h })), /must have required property 's'/);
    rejected(keyOf(JSON.stringify({ u, h, s, extra: 1 })), /unknown key 'extra'/);
    rejected(keyOf(JSON.stringify({ u: 'http://127.0.0.1:7750', h, s })), /\/u: must match pattern/);
    rejected(keyOf(JSON.stringify({ u, h: h.slice(2), s })), /\/h: must match pattern/);
    rejected(keyOf(JSON.stringify({ u, h: h.toUpperCase(), s })), /\/h: must match pattern/);
    rejected(keyOf(JSON.stringify({ u, h, s: 'short' })), /\/s: must NOT have fewer than 16 characters/);
    rejected(keyOf(JSON.stringify({ u, h, s: `${s}+/` })), /\/s: must match pattern/);
    rejected(keyOf(JSON.stringify({ u: 7, h, s })), /\/u: must be string/);
    rejected(keyOf(`{"u":${JSON.stringify(u)},"h":${JSON.stringify(h)},"s":${JSON.stringify(s)},"__proto__":{}}`), /unknown key '__proto__'/);
  });
});
