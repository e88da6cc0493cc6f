import { afterEach, describe, expect, it } from 'vitest';
import { world, type World } from './fixtures.js';

/** The store answers for every identity of an account at once (`owner_id IN (…)`). */
describe('store queries over an account (several owner ids)', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  it('lists, finds by submission id and checks for clashes across the given owners only', () => {
    w = world();
    const linked = w.store.identities.create({ username: 'linked@example.org' }).id;
    const stranger = w.store.identities.create({ username: 'stranger@example.org' }).id;
    const mine = w.transfer({ submissionId: 'sid-a' });
    const theirs = w.transfer({ ownerId: linked, submissionId: 'sid-b' });
    const other = w.transfer({ ownerId: stranger, submissionId: 'sid-c' });
    const account = [w.owner, linked];
    const list = (ownerId: string | string[]) => w.store.tasks.list({ ownerId, orderBy: [], limit: 100, offset: 0 });
    expect(list(account).records.map((t) => t.id).sort()).toEqual([mine.id, theirs.id].sort());
    expect(list(account).total).toBe(2);
    expect(list(w.owner).records.map((t) => t.id)).toEqual([mine.id]);
    expect(list([]).total).toBe(0);
    expect(w.store.tasks.bySubmission(account, 'sid-b')?.id).toBe(theirs.id);
    expect(w.store.tasks.bySubmission(account, 'sid-c')).toBeUndefined();
    expect(w.store.tasks.bySubmission(w.owner, 'sid-b')).toBeUndefined();
    expect(w.store.tasks.activeForOwner(account, 'TRANSFER').map((t) => t.id).sort()).toEqual([mine.id, theirs.id].sort());
    expect(w.store.tasks.activeForOwner(stranger, 'TRANSFER').map((t) => t.id)).toEqual([other.id]);
  });

  it('searches endpoints owned by, or visible to, any identity of the account', () => {
    w = world();
    const linked = w.store.identities.create({ username: 'linked@example.org' }).id;
    const stranger = w.store.identities.create({ username: 'stranger@example.org' }).id;
    const base = { description: null, organization: null, department: null, keywords: null, contactEmail: null, contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true };
    const theirs = w.store.endpoints.create({ ...base, ownerId: linked, displayName: 'zeta lab', public: false });
    w.store.endpoints.create({ ...base, ownerId: stranger, displayName: 'zeta private', public: false });
    const open = w.store.endpoints.create({ ...base, ownerId: stranger, displayName: 'zeta public', public: true });
    const account = [w.owner, linked];
    const names = (q: Parameters<typeof w.store.endpoints.search>[0]) => w.store.endpoints.search(q).records.map((r) => r.id).sort();
    expect(names({ ownerId: account, limit: 100, offset: 0 })).toEqual([w.src, w.dst, theirs.id].sort());
    expect(names({ text: 'zeta', visibleTo: account, limit: 100, offset: 0 })).toEqual([theirs.id, open.id].sort());
    expect(names({ text: 'zeta', visibleTo: w.owner, limit: 100, offset: 0 })).toEqual([open.id]);
  });
});
