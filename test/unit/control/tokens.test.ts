import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTokens, tokenTtl } from '../../../src/cli/commands/control.js';
import { hashSecret } from '../../../src/common/ids.js';
import { listTokens, revokeToken } from '../../../src/control/admin.js';
import { ControlStore, TRANSFER_SCOPE } from '../../../src/control/store/index.js';
import { tokenIdOf } from '../../../src/control/store/tokens.js';
import { tempDir } from '../../helpers/cluster.js';

describe('token administration', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: ControlStore;
  let alice: string;
  let bob: string;
  beforeEach(() => {
    dir = tempDir('ferry-tokens-');
    store = ControlStore.open(join(dir.path, 'control.db'));
    alice = store.identities.create({ username: 'alice@example.org' }).id;
    bob = store.identities.create({ username: 'bob@example.org' }).id;
  });
  afterEach(() => {
    store.close();
    dir.cleanup();
  });

  it('lists tokens by id (a hash prefix) and status, never the secret', () => {
    const a1 = store.tokens.issue(alice, [TRANSFER_SCOPE], 3600, 1_000).token;
    const a2 = store.tokens.issue(alice, [TRANSFER_SCOPE], null, 2_000).token;
    const b1 = store.tokens.issue(bob, [TRANSFER_SCOPE], 1, 3_000).token;
    store.tokens.revoke(a1, 5_000);
    const all = store.tokens.list({}, 10_000);
    expect(all.map((t) => [t.id, t.username, t.status])).toEqual([
      [tokenIdOf(b1), 'bob@example.org', 'expired'],
      [tokenIdOf(a2), 'alice@example.org', 'active'],
      [tokenIdOf(a1), 'alice@example.org', 'revoked'],
    ]);
    expect(all[2]).toMatchObject({ revokedAt: 5_000, expiresAt: 3_601_000, createdAt: 1_000, scopes: [TRANSFER_SCOPE] });
    expect(tokenIdOf(a1)).toBe(hashSecret(a1).slice(0, 16));
    expect(store.tokens.list({ identityId: bob }).map((t) => t.id)).toEqual([tokenIdOf(b1)]);
    const text = formatTokens(all);
    for (const secret of [a1, a2, b1]) expect(text).not.toContain(secret);
    expect(text).toMatch(/^ID +USERNAME +STATUS +SCOPES +CREATED +EXPIRES +REVOKED$/m);
    expect(text).toMatch(new RegExp(`^${tokenIdOf(a2)} +alice@example.org +active +transfer +\\S+ +never +-$`, 'm'));
  });

  it('revokes by id prefix or by token, at once for the next lookup', () => {
    const token = store.tokens.issue(alice, [TRANSFER_SCOPE], null).token;
    const other = store.tokens.issue(alice, [TRANSFER_SCOPE], null).token;
    store.close();
    const id = tokenIdOf(token);
    expect(revokeToken(dir.path, { id: id.slice(0, 8).toUpperCase() })).toEqual({ id, revoked: true });
    expect(revokeToken(dir.path, { token })).toEqual({ id, revoked: false });
    expect(() => revokeToken(dir.path, { id: 'abc' })).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest' }));
    expect(() => revokeToken(dir.path, { id: 'ffffffffffffffffff' })).toThrow(expect.objectContaining({ code: 'ClientError.NotFound' }));
    expect(() => revokeToken(dir.path, { token: 'never-issued-token-xxxxxxxx' })).toThrow(expect.objectContaining({ code: 'ClientError.NotFound' }));
    store = ControlStore.open(join(dir.path, 'control.db'));
    expect(store.tokens.lookup(token)).toEqual({ status: 'revoked' });
    expect(store.tokens.lookup(other).status).toBe('active');
    expect(listTokens(dir.path, { username: 'alice@example.org' }).map((t) => t.status).sort()).toEqual(['active', 'revoked']);
    expect(() => listTokens(dir.path, { username: 'nobody' })).toThrow(expect.objectContaining({ code: 'ClientError.NotFound' }));
  });

  it('refuses an ambiguous id prefix', () => {
    // Tokens until two share their first 8 hex digits would take ~65k; fake two stored hashes instead.
    const insert = store.db.prepare('INSERT INTO tokens (token_hash, identity_id, scopes, created_at) VALUES (?, ?, ?, ?)');
    insert.run(`abcdef12${'0'.repeat(56)}`, alice, TRANSFER_SCOPE, 1);
    insert.run(`abcdef12${'1'.repeat(56)}`, alice, TRANSFER_SCOPE, 2);
    store.close();
    expect(() => revokeToken(dir.path, { id: 'abcdef12' })).toThrow(expect.objectContaining({ code: 'ClientError.Conflict' }));
    expect(revokeToken(dir.path, { id: 'abcdef121' })).toEqual({ id: 'abcdef1211111111', revoked: true });
    store = ControlStore.open(join(dir.path, 'control.db'));
  });

  it('issues a never-expiring token only when asked by name', () => {
    expect(tokenTtl({})).toBe(48 * 3600);
    expect(tokenTtl({ expiresIn: '60' })).toBe(60);
    expect(tokenTtl({ neverExpires: true })).toBeNull();
    expect(() => tokenTtl({ expiresIn: '0' })).toThrow(/--never-expires/);
    expect(() => tokenTtl({ expiresIn: '60', neverExpires: true })).toThrow(/exclude each other/);
    expect(() => tokenTtl({ expiresIn: '-1' })).toThrow(/whole number/);
  });
});
