import { FerryError } from '../../common/errors.js';

/**
 * Lifetimes and limits of Ferry Auth: control.json's `auth.*` (see config/README.md), and for
 * tests the FERRY_AUTH_TUNING environment variable on top (STYLE §11). Kept apart from the
 * service so the config schema can take its defaults without loading Ferry Auth.
 */
export interface AuthTuning {
  /** Globus issues 48-hour access tokens (172800 s in its recorded responses). */
  accessTokenTtlSeconds: number;
  /** Refresh tokens rotate on every use; null = they expire only by revocation. */
  refreshTokenTtlSeconds: number | null;
  /** Authorization codes are single-use and short-lived. */
  codeTtlSeconds: number;
  idTokenTtlSeconds: number;
  /** Browser sign-in session at the login pages. */
  sessionTtlSeconds: number;
  /** An authorize request waiting on the login and consent pages. */
  interactionTtlSeconds: number;
  /** Login attempts (POSTs) per client address per window. */
  loginRateLimit: { max: number; windowMs: number };
}

export const DEFAULT_AUTH_TUNING: Readonly<AuthTuning> = Object.freeze({
  accessTokenTtlSeconds: 172_800,
  refreshTokenTtlSeconds: 180 * 86_400,
  codeTtlSeconds: 60,
  idTokenTtlSeconds: 3600,
  sessionTtlSeconds: 8 * 3600,
  interactionTtlSeconds: 600,
  loginRateLimit: Object.freeze({ max: 10, windowMs: 60_000 }),
});

/**
 * `base` (control.json's `auth`, or the defaults) with FERRY_AUTH_TUNING (JSON, partial) on
 * top, so integration tests can shorten the lifetimes of a spawned control without a config
 * file. `loginRateLimit` is merged key by key.
 */
export function tuningFromEnv(env: Record<string, string | undefined> = process.env, base: Readonly<AuthTuning> = DEFAULT_AUTH_TUNING): AuthTuning {
  const merged: AuthTuning = { ...base, loginRateLimit: { ...base.loginRateLimit } };
  const raw = env['FERRY_AUTH_TUNING'];
  if (!raw) return merged;
  let patch: Partial<AuthTuning>;
  try {
    patch = JSON.parse(raw) as Partial<AuthTuning>;
  } catch {
    throw new FerryError('Config.Invalid', 'FERRY_AUTH_TUNING is not valid JSON');
  }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new FerryError('Config.Invalid', 'FERRY_AUTH_TUNING must be a JSON object');
  const unknown = Object.keys(patch).filter((k) => !Object.hasOwn(DEFAULT_AUTH_TUNING, k));
  if (unknown.length) throw new FerryError('Config.Invalid', `FERRY_AUTH_TUNING has unknown keys: ${unknown.join(', ')}`);
  return { ...merged, ...patch, loginRateLimit: { ...merged.loginRateLimit, ...patch.loginRateLimit } };
}
