import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/common/config-file.js';
import { FerryError } from '../../../src/common/errors.js';
import { DEFAULT_AUTH_TUNING, tuningFromEnv } from '../../../src/control/auth/tuning.js';
import { ControlConfig } from '../../../src/control/config.js';

const parse = (extra: Record<string, unknown>) => parseConfig({ version: 1, dataDir: '/tmp/x', ...extra }, ControlConfig, 'test');

describe("control.json's auth.* keys", () => {
  it('default to Ferry Auth tuning defaults', () => {
    expect(parse({}).auth).toEqual(DEFAULT_AUTH_TUNING);
    expect(parse({ auth: { loginRateLimit: {} } }).auth).toEqual(DEFAULT_AUTH_TUNING);
  });

  it('set lifetimes, a non-expiring refresh token and the login rate limit', () => {
    const auth = parse({ auth: { accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: null, codeTtlSeconds: 30, loginRateLimit: { max: 3 } } }).auth;
    expect(auth).toEqual({ ...DEFAULT_AUTH_TUNING, accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: null, codeTtlSeconds: 30, loginRateLimit: { max: 3, windowMs: 60_000 } });
  });

  it.each([
    [{ codeTtlSeconds: 0 }, '/auth/codeTtlSeconds'],
    [{ codeTtlSeconds: 3600 }, '/auth/codeTtlSeconds'],
    [{ accessTokenTtlSeconds: 1.5 }, '/auth/accessTokenTtlSeconds'],
    [{ refreshTokenTtlSeconds: 'never' }, '/auth/refreshTokenTtlSeconds'],
    [{ loginRateLimit: { windowMs: 10 } }, '/auth/loginRateLimit/windowMs'],
    [{ tokenTtl: 5 }, "unknown key 'tokenTtl'"],
  ])('reject %j', (auth, where) => {
    let err: unknown;
    try { parse({ auth }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('Config.Invalid');
    expect((err as FerryError).message).toContain(where);
  });

  it('FERRY_AUTH_TUNING (for tests) goes on top of the config', () => {
    const base = parse({ auth: { accessTokenTtlSeconds: 3600, loginRateLimit: { max: 5 } } }).auth;
    expect(tuningFromEnv({}, base)).toEqual(base);
    const t = tuningFromEnv({ FERRY_AUTH_TUNING: JSON.stringify({ codeTtlSeconds: 1, loginRateLimit: { windowMs: 1000 } }) }, base);
    expect(t).toEqual({ ...base, codeTtlSeconds: 1, loginRateLimit: { max: 5, windowMs: 1000 } });
    expect(tuningFromEnv({ FERRY_AUTH_TUNING: '{"codeTtlSeconds":2}' })).toEqual({ ...DEFAULT_AUTH_TUNING, codeTtlSeconds: 2 });
    expect(() => tuningFromEnv({ FERRY_AUTH_TUNING: '{"nope":1}' }, base)).toThrow(/unknown keys: nope/);
    expect(() => tuningFromEnv({ FERRY_AUTH_TUNING: '[1]' }, base)).toThrow(/must be a JSON object/);
  });
});
