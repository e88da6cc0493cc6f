import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { newId } from '../../common/ids.js';
import type { Db } from '../store/db.js';

/**
 * The key that signs id_tokens (RS256), created on first use and kept in the database. The
 * public half is served as JWKS at /jwk.json (the path Globus Auth uses) and named by OIDC
 * discovery.
 */
export const ID_TOKEN_ALG = 'RS256';

interface Loaded { kid: string; privateKey: Awaited<ReturnType<typeof importJWK>>; publicJwk: JWK }

export class SigningKeys {
  private loaded: Promise<Loaded> | undefined;

  constructor(private readonly db: Db) {}

  private async load(): Promise<Loaded> {
    let row = this.db.prepare('SELECT kid, private_jwk FROM auth_signing_keys ORDER BY created_at DESC LIMIT 1').get() as { kid: string; private_jwk: string } | undefined;
    if (!row) {
      const { privateKey } = await generateKeyPair(ID_TOKEN_ALG, { extractable: true });
      const jwk = await exportJWK(privateKey);
      const kid = newId();
      // Another process (admin CLI) may have raced us; the newest key wins either way.
      this.db.prepare('INSERT INTO auth_signing_keys (kid, private_jwk, created_at) VALUES (?, ?, ?)').run(kid, JSON.stringify(jwk), Date.now());
      row = { kid, private_jwk: JSON.stringify(jwk) };
    }
    const priv = JSON.parse(row.private_jwk) as JWK;
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = priv;
    return { kid: row.kid, privateKey: await importJWK(priv, ID_TOKEN_ALG), publicJwk: { ...pub, kid: row.kid, alg: ID_TOKEN_ALG, use: 'sig' } };
  }

  private get(): Promise<Loaded> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: [(await this.get()).publicJwk] };
  }

  async sign(claims: Record<string, unknown>, input: { issuer: string; audience: string; subject: string; ttlSeconds: number }): Promise<string> {
    const key = await this.get();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ID_TOKEN_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(input.issuer)
      .setAudience(input.audience)
      .setSubject(input.subject)
      .setIssuedAt()
      .setExpirationTime(`${input.ttlSeconds}s`)
      .sign(key.privateKey);
  }
}
