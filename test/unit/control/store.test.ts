import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../../src/control/store/db.js';
import { MIGRATIONS } from '../../../src/control/store/migrations.js';
import { ControlStore, TRANSFER_SCOPE } from '../../../src/control/store/index.js';
import { tempDir } from '../../helpers/cluster.js';

describe('control store', () => {
  const dirs: Array<{ cleanup(): void }> = [];
  const fresh = () => { const d = tempDir(); dirs.push(d); return ControlStore.open(join(d.path, 'c.db')); };
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

  it('applies migrations once and refuses a database from a newer Ferry', () => {
    const d = tempDir(); dirs.push(d);
    const file = join(d.path, 'c.db');
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    openDatabase(file).close(); // re-open: nothing re-applied
    const raw = new Database(file);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => openDatabase(file)).toThrow(expect.objectContaining({ code: 'Store.MigrationFailed' }));
  });

  it('rolls a failed migration back entirely', () => {
    const d = tempDir(); dirs.push(d);
    const file = join(d.path, 'c.db');
    const latest = MIGRATIONS.at(-1)!.version;
    const bad = [...MIGRATIONS, { version: latest + 1, name: 'broken', sql: 'CREATE TABLE half (x INT); THIS IS NOT SQL;' }];
    expect(() => openDatabase(file, bad)).toThrow(expect.objectContaining({ code: 'Store.MigrationFailed' }));
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(latest);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    db.close();
  });

  it('stores tokens only as hashes and reports expired, revoked and unknown ones', () => {
    const s = fresh();
    const id = s.identities.create({ username: 'a@x' }).id;
    const now = 1_000_000;
    const { token } = s.tokens.issue(id, [TRANSFER_SCOPE], 60, now);
    const stored = s.db.prepare('SELECT token_hash FROM tokens').all() as Array<{ token_hash: string }>;
    expect(stored.some((r) => r.token_hash === token)).toBe(false);
    expect(s.tokens.lookup(token, now + 59_000)).toMatchObject({ status: 'active', token: { identityId: id, scopes: [TRANSFER_SCOPE] } });
    expect(s.tokens.lookup(token, now + 60_000).status).toBe('expired');
    expect(s.tokens.lookup('not-issued', now).status).toBe('unknown');
    const forever = s.tokens.issue(id, [TRANSFER_SCOPE], null, now).token;
    expect(s.tokens.lookup(forever, now + 10 ** 12).status).toBe('active');
    expect(s.tokens.revoke(forever)).toBe(true);
    expect(s.tokens.lookup(forever).status).toBe('revoked');
    s.close();
  });

  it('refuses duplicate usernames', () => {
    const s = fresh();
    s.identities.create({ username: 'dup@x' });
    expect(() => s.identities.create({ username: 'dup@x' })).toThrow(expect.objectContaining({ code: 'ClientError.Conflict' }));
    s.close();
  });

  it('consumes a setup key exactly once and refuses expired ones', () => {
    const s = fresh();
    const owner = s.identities.create({ username: 'o@x' }).id;
    const ep = s.endpoints.create({ ownerId: owner, displayName: 'e', description: null, organization: null, department: null, keywords: null, contactEmail: null, contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true, public: false });
    const now = 5_000_000;
    const key = s.setupKeys.create(ep.id, 60, now).secret;
    expect(s.setupKeys.consume(key, now + 1)).toBe(ep.id);
    expect(() => s.setupKeys.consume(key, now + 2)).toThrow(expect.objectContaining({ code: 'SetupKey.Used' }));
    const late = s.setupKeys.create(ep.id, 60, now).secret;
    expect(() => s.setupKeys.consume(late, now + 60_000)).toThrow(expect.objectContaining({ code: 'SetupKey.Expired' }));
    expect(() => s.setupKeys.consume('nope', now)).toThrow(expect.objectContaining({ code: 'SetupKey.Invalid' }));
    const orphan = s.setupKeys.create(ep.id, 60, now).secret;
    s.setupKeys.invalidateForEndpoint(ep.id, now);
    expect(() => s.setupKeys.consume(orphan, now + 1)).toThrow(expect.objectContaining({ code: 'SetupKey.Used' }));
    s.close();
  });

  it('searches endpoints by words, owner and visibility, with paging', () => {
    const s = fresh();
    const a = s.identities.create({ username: 'a@x' }).id;
    const b = s.identities.create({ username: 'b@x' }).id;
    const base = { description: null, organization: null, department: null, keywords: null, contactEmail: null, contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true };
    for (let i = 0; i < 5; i++) s.endpoints.create({ ...base, ownerId: a, displayName: `alpha lab ${i}`, public: false });
    s.endpoints.create({ ...base, ownerId: b, displayName: 'beta 100% lab', public: true });
    s.endpoints.create({ ...base, ownerId: b, displayName: 'beta hidden lab', public: false });
    expect(s.endpoints.search({ ownerId: a, limit: 3, offset: 0 })).toMatchObject({ hasNextPage: true });
    expect(s.endpoints.search({ ownerId: a, limit: 3, offset: 3 }).records).toHaveLength(2);
    expect(s.endpoints.search({ text: 'lab', visibleTo: a, limit: 100, offset: 0 }).records.map((r) => r.displayName)).toContain('beta 100% lab');
    expect(s.endpoints.search({ text: 'hidden', visibleTo: a, limit: 100, offset: 0 }).records).toHaveLength(0);
    expect(s.endpoints.search({ text: '100%', visibleTo: a, limit: 100, offset: 0 }).records).toHaveLength(1);
    expect(s.endpoints.search({ text: '%', visibleTo: b, limit: 100, offset: 0 }).records).toHaveLength(1);
    s.close();
  });
});
