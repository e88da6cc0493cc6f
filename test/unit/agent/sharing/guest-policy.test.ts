import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileOps } from '../../../../src/agent/ops/index.js';
import { createPathPolicy } from '../../../../src/agent/policy/index.js';
import { createGuestPolicy, ruleComponents, type ReplicaEntry } from '../../../../src/agent/sharing/index.js';
import type { GuestCollection, Principals, SharingRule } from '../../../../src/protocol/index.js';
import { expectCode } from '../fs-fixture.js';

/**
 * A guest collection's view of the agent's policy, on real directories: every principal type,
 * rules that only add, whole-segment matching, expiry, rules that would leave the collection,
 * links out of the share, a root nested in it, a root not marked shareable, and access revoked
 * between two calls.
 */

const OWNER = '00000000-0000-4000-8000-000000000001';
const ALICE = '00000000-0000-4000-8000-00000000000a';
const ALICE_OTHER = '00000000-0000-4000-8000-00000000000b';
const BOB = '00000000-0000-4000-8000-00000000000c';
const GROUP = '00000000-0000-4000-8000-0000000000f1';
const COLLECTION = '00000000-0000-4000-8000-0000000000c1';

const who = (id: string | null, extra: Partial<Principals> = {}): Principals => ({ identityId: id, linkedIdentityIds: [], groupIds: [], authenticated: id !== null, ...extra });
let ruleSeq = 0;
const rule = (r: Partial<SharingRule>): SharingRule => ({
  id: `00000000-0000-4000-8000-${String(++ruleSeq).padStart(12, '0')}`, principalType: 'identity', principal: ALICE, path: '/', permissions: 'r', expiresAt: null, ...r,
});

function entryOf(c: Partial<GuestCollection> & { rules: SharingRule[] }): ReplicaEntry {
  const collection: GuestCollection = { id: COLLECTION, hostPath: '/~/share/', ownerId: OWNER, enabled: true, managers: [], ...c };
  return { collection, rules: collection.rules.flatMap((r) => { const components = ruleComponents(r.path); return components ? [{ rule: r, components }] : []; }) };
}

describe('guest collections seen through the agent policy', () => {
  const temps: string[] = [];
  afterEach(() => { for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true }); });

  function setup(opts: { share?: boolean; writable?: boolean; extraRoots?: Array<{ path: string; writable: boolean; sharing: boolean }> } = {}) {
    const base = mkdtempSync(join(tmpdir(), 'ferry-guest-'));
    temps.push(base);
    const root = join(base, 'root');
    mkdirSync(join(root, 'share', 'pub', 'deep'), { recursive: true });
    mkdirSync(join(root, 'share', 'incoming'), { recursive: true });
    mkdirSync(join(root, 'share2'), { recursive: true });
    mkdirSync(join(root, 'private'), { recursive: true });
    writeFileSync(join(root, 'share', 'pub', 'a.txt'), 'public');
    writeFileSync(join(root, 'share', 'pub', 'deep', 'b.txt'), 'deeper');
    writeFileSync(join(root, 'share', 'top.txt'), 'top');
    writeFileSync(join(root, 'share2', 'other.txt'), 'not shared');
    writeFileSync(join(root, 'private', 'secret.txt'), 'secret');
    const host = createPathPolicy([{ path: root, writable: opts.writable ?? true, sharing: opts.share ?? true }, ...(opts.extraRoots ?? [])]);
    return { base, root, host };
  }

  function guest(host: ReturnType<typeof createPathPolicy>, entry: () => ReplicaEntry | undefined, principals: Principals, now = () => Date.now()) {
    const policy = createGuestPolicy({ host, collectionId: COLLECTION, entry, principals, now });
    return { policy, ops: createFileOps(policy) };
  }

  it('an identity rule on / lets her list and read but not write; the owner has rw', async () => {
    const { root, host } = setup();
    const e = entryOf({ rules: [rule({ principal: ALICE, path: '/', permissions: 'r' })] });
    const alice = guest(host, () => e, who(ALICE));
    const listing = await alice.ops.ls({ path: '/', showHidden: false });
    expect(listing.path).toBe('/');
    expect(listing.entries.map((x) => x.name).sort()).toEqual(['incoming', 'pub', 'top.txt']);
    expect((await alice.ops.stat({ path: '/pub/a.txt' })).size).toBe(6);
    await expectCode(alice.ops.mkdir({ path: '/new' }), 'EndpointPermissionDenied');
    expect(existsSync(join(root, 'share', 'new'))).toBe(false);
    const owner = guest(host, () => e, who(OWNER));
    await owner.ops.mkdir({ path: '/made-by-owner' });
    expect(existsSync(join(root, 'share', 'made-by-owner'))).toBe(true);
    // '/~/' is the collection's root too.
    expect((await alice.ops.ls({ path: '/~/pub/', showHidden: false })).entries.length).toBe(2);
  });

  it('rules only add: rw on a sub-directory, r above; nothing for someone else; no path outside', async () => {
    const { root, host } = setup();
    const e = entryOf({ rules: [rule({ path: '/', permissions: 'r' }), rule({ path: '/incoming/', permissions: 'rw' }), rule({ path: '/pub/', permissions: 'r' })] });
    const alice = guest(host, () => e, who(ALICE));
    await alice.ops.mkdir({ path: '/incoming/drop' });
    expect(existsSync(join(root, 'share', 'incoming', 'drop'))).toBe(true);
    await alice.ops.rename({ oldPath: '/incoming/drop', newPath: '/incoming/dropped' });
    await expectCode(alice.ops.rename({ oldPath: '/incoming/dropped', newPath: '/pub/dropped' }), 'EndpointPermissionDenied');
    await expectCode(alice.ops.delete({ path: '/pub/a.txt', recursive: false, ignoreMissing: false }), 'EndpointPermissionDenied');
    await alice.ops.delete({ path: '/incoming/dropped', recursive: true, ignoreMissing: false });
    // The collection's own directory is never removed or renamed through it, even with rw.
    const owner = guest(host, () => e, who(OWNER));
    await expectCode(owner.ops.delete({ path: '/', recursive: true, ignoreMissing: false }), 'EndpointPermissionDenied');
    expect(existsSync(join(root, 'share', 'top.txt'))).toBe(true);
    const bob = guest(host, () => e, who(BOB));
    await expectCode(bob.ops.ls({ path: '/', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(bob.ops.stat({ path: '/pub/a.txt' }), 'EndpointPermissionDenied');
    // '..' never climbs out, whoever asks.
    await expectCode(owner.ops.ls({ path: '/../private/', showHidden: false }), 'ClientError.BadRequest.InvalidPath');
    await expectCode(owner.ops.stat({ path: '/pub/../../private/secret.txt' }), 'ClientError.BadRequest.InvalidPath');
  });

  it('matches whole path segments: a rule on /pub/ grants nothing on /pub2 or at the top', async () => {
    const { root, host } = setup();
    mkdirSync(join(root, 'share', 'pub2'));
    writeFileSync(join(root, 'share', 'pub2', 'x'), 'x');
    const e = entryOf({ rules: [rule({ path: '/pub/', permissions: 'rw' })] });
    const alice = guest(host, () => e, who(ALICE));
    expect((await alice.ops.ls({ path: '/pub', showHidden: false })).entries.length).toBe(2);
    await expectCode(alice.ops.ls({ path: '/pub2/', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(alice.ops.ls({ path: '/', showHidden: false }), 'EndpointPermissionDenied');
    // '/data' of the host vs '/data2': the collection at /~/share/ never reaches /~/share2/.
    const owner = guest(host, () => e, who(OWNER));
    const names = (await owner.ops.ls({ path: '/', showHidden: false })).entries.map((x) => x.name);
    expect(names).not.toContain('other.txt');
  });

  it('every principal type: linked identity, group, all authenticated users, anonymous', async () => {
    const { host } = setup();
    const read = async (e: ReplicaEntry, p: Principals) => guest(host, () => e, p).ops.stat({ path: '/top.txt' });
    await read(entryOf({ rules: [rule({ principal: ALICE })] }), who(ALICE_OTHER, { linkedIdentityIds: [ALICE] }));
    await expectCode(read(entryOf({ rules: [rule({ principal: ALICE })] }), who(ALICE_OTHER)), 'EndpointPermissionDenied');
    const byGroup = entryOf({ rules: [rule({ principalType: 'group', principal: GROUP })] });
    await read(byGroup, who(BOB, { groupIds: [GROUP] }));
    await expectCode(read(byGroup, who(BOB)), 'EndpointPermissionDenied');
    const authenticated = entryOf({ rules: [rule({ principalType: 'all_authenticated_users', principal: '' })] });
    await read(authenticated, who(BOB));
    await expectCode(read(authenticated, who(null)), 'EndpointPermissionDenied');
    await read(entryOf({ rules: [rule({ principalType: 'anonymous', principal: '' })] }), who(null));
    // A role holder (access_manager) has rw on '/', as the owner does.
    const managed = entryOf({ rules: [], managers: [{ principalType: 'group', principal: GROUP }] });
    await guest(host, () => managed, who(BOB, { groupIds: [GROUP] })).ops.mkdir({ path: '/by-manager' });
  });

  it('expiry and revocation take effect at the next call', async () => {
    const { host } = setup();
    let t = 1_000_000;
    let e: ReplicaEntry | undefined = entryOf({ rules: [rule({ expiresAt: 1_000_500 })] });
    const alice = guest(host, () => e, who(ALICE), () => t);
    await alice.ops.stat({ path: '/top.txt' });
    t = 1_000_500;
    await expectCode(alice.ops.stat({ path: '/top.txt' }), 'EndpointPermissionDenied');
    e = entryOf({ rules: [rule({})] });
    await alice.ops.stat({ path: '/top.txt' });
    expect(() => alice.policy.checkRead('/top.txt')).not.toThrow();
    e = entryOf({ rules: [] });
    expect(() => alice.policy.checkRead('/top.txt')).toThrow(/No access rule/);
    e = undefined;
    await expectCode(alice.ops.stat({ path: '/top.txt' }), 'Sharing.CollectionRefused');
    e = { ...entryOf({ rules: [rule({})] }), collection: { ...entryOf({ rules: [rule({})] }).collection, enabled: false } };
    await expectCode(alice.ops.stat({ path: '/top.txt' }), 'Sharing.CollectionRefused');
  });

  it('refuses rules whose path would leave the collection, whatever control sent', () => {
    expect(ruleComponents('/../private/')).toBeNull();
    expect(ruleComponents('/a/./b/')).toBeNull();
    expect(ruleComponents('relative/')).toBeNull();
    expect(ruleComponents('/a\u0000/')).toBeNull();
    expect(ruleComponents('/data/')).toEqual(['data']);
  });

  it('refuses a collection outside a shareable root, and a root nested inside the collection', async () => {
    const plain = setup({ share: false });
    const e = entryOf({ rules: [rule({})] });
    await expectCode(guest(plain.host, () => e, who(OWNER)).ops.ls({ path: '/', showHidden: false }), 'Sharing.NotShareable');
    const outside = setup();
    await expectCode(guest(outside.host, () => entryOf({ hostPath: '/etc/', rules: [rule({})] }), who(OWNER)).ops.ls({ path: '/', showHidden: false }), 'Sharing.CollectionRefused');
    const nestedBase = mkdtempSync(join(tmpdir(), 'ferry-guest-nested-'));
    temps.push(nestedBase);
    const nested = setup();
    mkdirSync(join(nested.root, 'share', 'inner'));
    writeFileSync(join(nested.root, 'share', 'inner', 'own.txt'), 'inner root');
    const host = createPathPolicy([{ path: nested.root, writable: true, sharing: true }, { path: join(nested.root, 'share', 'inner'), writable: true, sharing: true }]);
    await expectCode(guest(host, () => e, who(OWNER)).ops.stat({ path: '/inner/own.txt' }), 'EndpointPermissionDenied');
  });

  it('follows a link only inside the collection and only where the guest may read', async () => {
    const { root, host } = setup();
    symlinkSync('../../private', join(root, 'share', 'pub', 'out'));
    symlinkSync('../../share2/other.txt', join(root, 'share', 'pub', 'prefix-confusion'));
    symlinkSync('../incoming', join(root, 'share', 'pub', 'to-incoming'));
    writeFileSync(join(root, 'share', 'incoming', 'in.txt'), 'in');
    symlinkSync(join(root, 'private'), join(root, 'share', 'abs-out'));
    const e = entryOf({ rules: [rule({ path: '/pub/', permissions: 'r' })] });
    const alice = guest(host, () => e, who(ALICE));
    await expectCode(alice.ops.ls({ path: '/pub/out/', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(alice.ops.ls({ path: '/pub/to-incoming/', showHidden: false }), 'EndpointPermissionDenied');
    // Shown as links that lead nowhere she may see, never with the target's details.
    const entries = (await alice.ops.ls({ path: '/pub/', showHidden: false })).entries;
    for (const name of ['out', 'prefix-confusion', 'to-incoming']) expect(entries.find((x) => x.name === name)?.type).toBe('invalid_symlink');
    // The owner may follow a link to another part of the collection, still not out of it.
    const owner = guest(host, () => e, who(OWNER));
    expect((await owner.ops.ls({ path: '/pub/to-incoming/', showHidden: false })).entries.map((x) => x.name)).toEqual(['in.txt']);
    await expectCode(owner.ops.ls({ path: '/abs-out/', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(owner.ops.ls({ path: '/pub/out/', showHidden: false }), 'EndpointPermissionDenied');
    expect(readFileSync(join(root, 'private', 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('a collection whose host path is itself a link is refused, not followed', async () => {
    const { root, host } = setup();
    symlinkSync('private', join(root, 'linked-share'));
    const e = entryOf({ hostPath: '/~/linked-share/', rules: [rule({})] });
    await expectCode(guest(host, () => e, who(OWNER)).ops.ls({ path: '/', showHidden: false }), 'EndpointPermissionDenied');
  });

  it('never writes into a read-only root, whatever the rules say; errors speak the guest path', async () => {
    const { host } = setup({ writable: false });
    const e = entryOf({ rules: [rule({ permissions: 'rw' })] });
    const alice = guest(host, () => e, who(ALICE));
    await expectCode(alice.ops.mkdir({ path: '/x' }), 'EndpointPermissionDenied');
    const err = await alice.ops.stat({ path: '/missing.txt' }).catch((x: Error) => x);
    expect((err as Error).message).toContain('/missing.txt');
    expect((err as Error).message).not.toContain('share');
  });
  it('a transfer item that is a link is read only where the guest may read: its target is resolved afresh', async () => {
    const { root, host } = setup();
    mkdirSync(join(root, 'share', 'hidden'));
    writeFileSync(join(root, 'share', 'hidden', 'h.txt'), 'hidden');
    // The rule names /publ/, which a local user made a link to a directory she may not read.
    symlinkSync('hidden', join(root, 'share', 'publ'));
    symlinkSync('../hidden', join(root, 'share', 'pub', 'dir-link'));
    symlinkSync('../top.txt', join(root, 'share', 'pub', 'file-link'));
    symlinkSync('deep', join(root, 'share', 'pub', 'ok-link'));
    symlinkSync('deep/b.txt', join(root, 'share', 'pub', 'ok-file-link'));
    const e = entryOf({ rules: [rule({ path: '/pub/', permissions: 'r' }), rule({ path: '/publ/', permissions: 'r' })] });
    const alice = guest(host, () => e, who(ALICE));
    await expectCode(alice.policy.resolve('/publ', 'read'), 'EndpointPermissionDenied');
    await expectCode(alice.policy.resolve('/publ/h.txt', 'read'), 'EndpointPermissionDenied');
    await expectCode(alice.policy.resolve('/pub/dir-link', 'read'), 'EndpointPermissionDenied');
    await expectCode(alice.policy.resolve('/pub/file-link', 'read'), 'EndpointPermissionDenied');
    const deep = realpathSync(join(root, 'share', 'pub', 'deep'));
    const dirItem = await alice.policy.resolve('/pub/ok-link', 'read');
    expect(dirItem.apiPath).toBe('/pub/ok-link');
    expect(realpathSync(dirItem.hostPath)).toBe(deep);
    expect(dirItem.realRoot).toBe(deep);
    const fileItem = await alice.policy.resolve('/pub/ok-file-link', 'read');
    expect(realpathSync(fileItem.hostPath)).toBe(join(deep, 'b.txt'));
    expect(fileItem.realRoot).toBe(deep);
    // A plain item: its own directory, or a file's parent, bounds what the session may read.
    expect((await alice.policy.resolve('/pub/', 'read')).realRoot).toBe(realpathSync(join(root, 'share', 'pub')));
    expect((await alice.policy.resolve('/pub/a.txt', 'read')).realRoot).toBe(realpathSync(join(root, 'share', 'pub')));
  });

  it('a root nested in the collection is not part of it, by name, by link, or in a walk', async () => {
    const { root } = setup();
    mkdirSync(join(root, 'share', 'inner'));
    writeFileSync(join(root, 'share', 'inner', 'own.txt'), 'inner root');
    symlinkSync('../inner', join(root, 'share', 'pub', 'to-inner'));
    symlinkSync('../inner/own.txt', join(root, 'share', 'pub', 'to-inner-file'));
    const host = createPathPolicy([{ path: root, writable: true, sharing: true }, { path: join(root, 'share', 'inner'), writable: true, sharing: false }]);
    const e = entryOf({ rules: [rule({ path: '/', permissions: 'rw' })] });
    const alice = guest(host, () => e, who(ALICE));
    await expectCode(alice.ops.ls({ path: '/inner/', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(alice.ops.ls({ path: '/pub/to-inner/', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(alice.policy.resolve('/pub/to-inner', 'read'), 'EndpointPermissionDenied');
    await expectCode(alice.policy.resolve('/pub/to-inner-file', 'read'), 'EndpointPermissionDenied');
    const shown = (await alice.ops.ls({ path: '/pub/', showHidden: false })).entries;
    expect(shown.find((x) => x.name === 'to-inner')?.type).toBe('invalid_symlink');
    expect(shown.find((x) => x.name === 'to-inner-file')?.type).toBe('invalid_symlink');
    // The source's walk leaves the nested root out; other directories it enters.
    const identity = (p: string) => { const st = statSync(p, { bigint: true }); return { dev: st.dev, ino: st.ino }; };
    expect(alice.policy.mayEnter(identity(join(root, 'share', 'inner')))).toBe(false);
    expect(alice.policy.mayEnter(identity(join(root, 'share', 'pub')))).toBe(true);
  });

  it('shows link targets spelled inside the collection, never a host path', async () => {
    const { root, host } = setup();
    symlinkSync('../incoming', join(root, 'share', 'pub', 'to-incoming'));
    symlinkSync(join(root, 'share', 'top.txt'), join(root, 'share', 'pub', 'abs-in'));
    symlinkSync('../../private', join(root, 'share', 'pub', 'out'));
    symlinkSync(join(root, 'private'), join(root, 'share', 'pub', 'abs-out'));
    const e = entryOf({ rules: [rule({ path: '/pub/', permissions: 'r' })] });
    const owner = guest(host, () => e, who(OWNER));
    const entries = (await owner.ops.ls({ path: '/pub/', showHidden: false })).entries;
    const target = (name: string) => entries.find((x) => x.name === name)?.link_target;
    expect(target('to-incoming')).toBe('/incoming');
    expect(target('abs-in')).toBe('/top.txt');
    expect(target('out')).toBeNull();
    expect(target('abs-out')).toBeNull();
    expect(JSON.stringify(entries)).not.toContain(root);
    expect((await owner.ops.stat({ path: '/pub/abs-in' })).link_target).toBe('/top.txt');
    await expectCode(owner.ops.stat({ path: '/pub/abs-out' }), 'EndpointPermissionDenied');
  });

  it('a collection shared at / gives no meaning to a first component "~"', async () => {
    const { root } = setup();
    const host = createPathPolicy([{ path: root, writable: false, sharing: false }, { path: '/', writable: false, sharing: true }]);
    const e = entryOf({ hostPath: '/', rules: [rule({ path: '/', permissions: 'r' })] });
    const owner = guest(host, () => e, who(OWNER));
    await expectCode(owner.ops.stat({ path: '/~/~/share/top.txt' }), 'ClientError.BadRequest.InvalidPath');
    await expectCode(owner.ops.stat({ path: '/~/share/top.txt' }), 'ClientError.NotFound');
  });
});
