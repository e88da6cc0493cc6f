import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../../src/common/errors.js';
import { ControlStore } from '../../../../src/control/store/index.js';
import { openDatabase } from '../../../../src/control/store/db.js';
import { guestCollectionOf } from '../../../../src/control/sharing/snapshot.js';
import { SharingService } from '../../../../src/control/sharing/service.js';
import { principalsForCollection } from '../../../../src/control/sharing/principals.js';
import type { SharingChange } from '../../../../src/control/sharing/publisher.js';

describe('sharing store', () => {
  let store: ControlStore;
  let owner: string;
  let other: string;
  let host: string;
  let guest: string;
  beforeEach(() => {
    store = new ControlStore(openDatabase(':memory:'));
    owner = store.identities.create({ username: 'ann@x' }).id;
    other = store.identities.create({ username: 'ben@x' }).id;
    const base = { ownerId: owner, description: null, organization: null, department: null, keywords: null, contactEmail: null, contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true };
    host = store.endpoints.create({ ...base, displayName: 'host', public: false }).id;
    guest = store.endpoints.create({ ...base, displayName: 'guest', public: true, hostEndpointId: host, hostPath: '/~/p/' }).id;
  });
  afterEach(() => store.close());

  it('keeps rules unique per principal and path, and finds collections granting a principal (unexpired only)', () => {
    const rule = { endpointId: guest, principalType: 'identity' as const, principal: other, path: '/a/', permissions: 'r' as const, expirationDate: null, createdBy: owner };
    store.accessRules.create(rule);
    expect(() => store.accessRules.create(rule)).toThrow(FerryError);
    expect(store.accessRules.endpointsGranting({ identityIds: [other], groupIds: [] })).toEqual([guest]);
    expect(store.accessRules.endpointsGranting({ identityIds: [owner], groupIds: [] })).toEqual([]);
    store.accessRules.create({ ...rule, principalType: 'anonymous', principal: '', expirationDate: 5 });
    expect(store.accessRules.endpointsGranting({ identityIds: [owner], groupIds: [] }, 4)).toEqual([guest]);
    expect(store.accessRules.endpointsGranting({ identityIds: [owner], groupIds: [] }, 6)).toEqual([]);
  });

  it('tells a host agent only the linked identities and groups its collection names', () => {
    const g1 = '00000000-0000-4000-8000-0000000000a1';
    const g2 = '00000000-0000-4000-8000-0000000000a2';
    const linkedNamed = '00000000-0000-4000-8000-0000000000b1';
    const linkedOther = '00000000-0000-4000-8000-0000000000b2';
    store.accessRules.create({ endpointId: guest, principalType: 'group', principal: g1, path: '/a/', permissions: 'r', expirationDate: null, createdBy: owner });
    store.roles.create({ endpointId: guest, principalType: 'identity', principal: linkedNamed, role: 'access_manager' });
    const account = { identityId: other, linkedIdentityIds: [linkedNamed, linkedOther, owner], groupIds: [g1, g2], authenticated: true };
    expect(principalsForCollection(store, guest, account)).toEqual({ identityId: other, linkedIdentityIds: [linkedNamed, owner], groupIds: [g1], authenticated: true });
    // A mapped endpoint (its owner's alone): the identity only.
    expect(principalsForCollection(store, null, account)).toEqual({ identityId: other, linkedIdentityIds: [], groupIds: [], authenticated: true });
  });

  it('commits a change with a version bump in one transaction and publishes whole collections', () => {
    const published: SharingChange[] = [];
    const sharing = new SharingService(store, { publish: (c) => published.push(c) });
    store.roles.create({ endpointId: guest, principalType: 'identity', principal: other, role: 'activity_monitor' });
    const r = sharing.commit(host, 'rule created', { changed: [guest] }, () => store.accessRules.create({
      endpointId: guest, principalType: 'identity', principal: other, path: '/', permissions: 'rw', expirationDate: null, createdBy: owner,
    }));
    expect(published).toEqual([{ hostEndpointId: host, baseVersion: 0, version: 1, what: 'rule created', removed: [], collections: [guestCollectionOf(store, store.endpoints.get(guest)!)] }]);
    expect(published[0]!.collections[0]).toMatchObject({ id: guest, hostPath: '/~/p/', ownerId: owner, enabled: true, managers: [], rules: [{ id: r.id, permissions: 'rw', expiresAt: null }] });
    // A failing change leaves neither the change nor a version behind, and publishes nothing.
    expect(() => sharing.commit(host, 'boom', { changed: [guest] }, () => { store.endpoints.markDeleted(guest); throw new Error('boom'); })).toThrow('boom');
    expect(store.sharingVersions.current(host)).toBe(1);
    expect(store.endpoints.get(guest)!.deletedAt).toBeNull();
    expect(published).toHaveLength(1);
    sharing.commit(host, 'collection deleted', { changed: [guest] }, () => store.endpoints.markDeleted(guest));
    expect(published[1]).toMatchObject({ baseVersion: 1, version: 2, collections: [], removed: [guest] });
  });
});
