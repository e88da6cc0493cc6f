import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileOps, parseIdFile, type FileOps } from '../../../src/agent/ops/index.js';
import { createPathPolicy } from '../../../src/agent/policy/index.js';
import { isValid } from '../../../src/common/validate.js';
import { FileDoc } from '../../../src/protocol/file-doc.js';
import { LsResult } from '../../../src/protocol/link.js';
import { expectCode, isRoot, makeFixture, type Fixture } from './fs-fixture.js';

let fx: Fixture;
let ops: FileOps;
let me: { user: string; group: string };

beforeAll(async () => {
  fx = await makeFixture();
  ops = createFileOps(createPathPolicy(fx.roots));
  const uid = process.getuid!();
  const gid = process.getgid!();
  const users = parseIdFile(await readFile('/etc/passwd', 'utf8').catch(() => ''));
  const groups = parseIdFile(await readFile('/etc/group', 'utf8').catch(() => ''));
  me = { user: users.get(uid) ?? String(uid), group: groups.get(gid) ?? String(gid) };
});
afterAll(async () => { await fx.cleanup(); });

const names = (r: { entries: Array<{ name: string }> }): string[] => r.entries.map((e) => e.name);

describe('ls', () => {
  it('lists the default root as /~/, sorted, without hidden files unless asked', async () => {
    for (const path of ['/~', '/~/']) {
      const r = await ops.ls({ path, showHidden: false });
      expect(r.path).toBe('/~/');
      expect(names(r)).toEqual(['dangling', 'dir', 'esc', 'file.txt', 'in-link', 'link-nested', 'nested', 'secret-link', 'to-ro']);
      expect(isValid(LsResult, r)).toBe(true);
    }
    const all = await ops.ls({ path: '/~/', showHidden: true });
    expect(names(all)).toContain('.hidden');
    expect(names(all)[0]).toBe('.hidden');
  });

  it('normalises an absolute path to end with /', async () => {
    const r = await ops.ls({ path: `${fx.home}/dir`, showHidden: false });
    expect(r.path).toBe(`${fx.home}/dir/`);
    expect(r.entries).toEqual([]);
    expect((await ops.ls({ path: `${fx.ro}//`, showHidden: false })).path).toBe(`${fx.ro}/`);
  });

  it('reports symlinks with the target type, dangling and escaping ones as invalid_symlink', async () => {
    const r = await ops.ls({ path: '/~/', showHidden: false });
    const by = new Map(r.entries.map((e) => [e.name, e]));
    const inLink = by.get('in-link')!;
    const linkStat = await lstat(join(fx.home, 'in-link'));
    expect(inLink).toMatchObject({ type: 'dir', link_target: 'dir', link_size: linkStat.size, link_user: me.user, link_group: me.group });
    expect(inLink.link_last_modified).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00$/);
    expect(by.get('dangling')).toMatchObject({ type: 'invalid_symlink', link_target: join(fx.outside, 'nothing') });
    // Escaping links are not followed: nothing about the outside file is disclosed.
    const secret = by.get('secret-link')!;
    expect(secret).toMatchObject({ type: 'invalid_symlink', link_target: join(fx.outside, 'secret.txt') });
    expect(secret.size).toBe((await lstat(join(fx.home, 'secret-link'))).size);
    expect(by.get('esc')).toMatchObject({ type: 'invalid_symlink' });
    expect(by.get('to-ro')).toMatchObject({ type: 'invalid_symlink', link_target: '../ro' });
    expect(by.get('file.txt')).toMatchObject({ type: 'file', size: 5, link_target: null, link_size: null, link_user: null, link_group: null, link_last_modified: null });
  });

  it('lists through a symlink that stays inside the root', async () => {
    await writeFile(join(fx.home, 'dir', 'a'), 'a');
    try {
      const r = await ops.ls({ path: '/~/in-link', showHidden: false });
      expect(r.path).toBe('/~/in-link/');
      expect(names(r)).toEqual(['a']);
    } finally {
      await rm(join(fx.home, 'dir', 'a'));
    }
  });

  it('refuses listing through or at a symlink leading outside', async () => {
    await expectCode(ops.ls({ path: '/~/esc', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(ops.ls({ path: '/~/esc/dir', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(ops.ls({ path: '/~/../outside', showHidden: false }), 'ClientError.BadRequest.InvalidPath');
    await expectCode(ops.ls({ path: fx.outside, showHidden: false }), 'EndpointPermissionDenied');
  });

  it('maps missing paths, files and dangling links to the Globus codes', async () => {
    await expectCode(ops.ls({ path: '/~/nope', showHidden: false }), 'ClientError.NotFound');
    await expectCode(ops.ls({ path: '/~/file.txt', showHidden: false }), 'ExternalError.DirListingFailed.NotDirectory');
    // A link leading out of the root is refused whether or not its target exists (nothing outside is looked at).
    await expectCode(ops.ls({ path: '/~/dangling', showHidden: false }), 'EndpointPermissionDenied');
    await expectCode(ops.ls({ path: '/~/file.txt/x', showHidden: false }), 'ExternalError.NotDirectory');
  });

  it('refuses a directory with more entries than the limit, counting only what it would show', async () => {
    const dir = join(fx.home, 'many');
    await mkdir(dir);
    try {
      for (const n of ['a', 'b', 'c', '.h1', '.h2']) await writeFile(join(dir, n), n);
      const small = createFileOps(createPathPolicy(fx.roots), { maxLsEntries: 3 });
      expect(names(await small.ls({ path: '/~/many', showHidden: false }))).toEqual(['a', 'b', 'c']);
      await expectCode(small.ls({ path: '/~/many', showHidden: true }), 'ExternalError.DirListingFailed.SizeLimit');
      await writeFile(join(dir, 'd'), 'd');
      await expectCode(small.ls({ path: '/~/many', showHidden: false }), 'ExternalError.DirListingFailed.SizeLimit');
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it.skipIf(isRoot)('maps EACCES to ExternalError.PermissionDenied', async () => {
    const dir = join(fx.home, 'locked');
    await mkdir(dir, { mode: 0o000 });
    try {
      await expectCode(ops.ls({ path: '/~/locked', showHidden: false }), 'ExternalError.PermissionDenied');
    } finally {
      await chmod(dir, 0o755);
      await rm(dir, { recursive: true });
    }
  });
});

describe('stat', () => {
  it('fills a file document from the host', async () => {
    const p = join(fx.home, 'doc.bin');
    await writeFile(p, Buffer.alloc(1234));
    await chmod(p, 0o4751);
    await utimes(p, new Date('2020-01-01T00:00:00Z'), new Date('2021-09-02T18:04:47.900Z'));
    const doc = await ops.stat({ path: '/~/doc.bin' });
    expect(doc).toEqual({
      DATA_TYPE: 'file', name: 'doc.bin', type: 'file', link_target: null, size: 1234,
      last_modified: '2021-09-02 18:04:47+00:00', permissions: '4751', user: me.user, group: me.group,
      link_size: null, link_user: null, link_group: null, link_last_modified: null,
    });
    expect(isValid(FileDoc, doc)).toBe(true);
  });

  it('names a root after its configured basename', async () => {
    expect(await ops.stat({ path: '/~/' })).toMatchObject({ name: 'home', type: 'dir' });
    expect(await ops.stat({ path: fx.linkroot })).toMatchObject({ name: 'linkroot', type: 'dir' });
    expect(await ops.stat({ path: '/~/nested' })).toMatchObject({ name: 'nested', type: 'dir' });
  });

  it('reports symlinks: valid with target type, dangling as invalid_symlink, escaping refused', async () => {
    expect(await ops.stat({ path: '/~/in-link' })).toMatchObject({ name: 'in-link', type: 'dir', link_target: 'dir' });
    await expectCode(ops.stat({ path: '/~/dangling' }), 'EndpointPermissionDenied');
    const err = await expectCode(ops.stat({ path: '/~/secret-link' }), 'EndpointPermissionDenied');
    expect(err.message).not.toContain(fx.outside);
  });

  it('reports special files by type', async () => {
    const fifo = join(fx.home, 'fifo');
    execFileSync('mkfifo', [fifo]);
    try {
      expect(await ops.stat({ path: '/~/fifo' })).toMatchObject({ type: 'pipe' });
    } finally {
      await rm(fifo);
    }
  });

  it('answers NotFound for a missing path and refuses paths outside the roots', async () => {
    await expectCode(ops.stat({ path: '/~/missing' }), 'ClientError.NotFound');
    const err = await expectCode(ops.stat({ path: `${fx.outside}/secret.txt` }), 'EndpointPermissionDenied');
    expect(err.message).toMatch(/Path not allowed/);
  });

  it.runIf(isRoot)('shows unknown owners as numbers', async () => {
    const p = join(fx.home, 'orphan');
    await writeFile(p, '');
    await chown(p, 54321, 54322);
    try {
      const users = parseIdFile(await readFile('/etc/passwd', 'utf8'));
      expect(users.has(54321)).toBe(false);
      expect(await ops.stat({ path: '/~/orphan' })).toMatchObject({ user: '54321', group: '54322' });
    } finally {
      await rm(p);
    }
  });

  it('reports a symlink created after startup', async () => {
    await symlink('file.txt', join(fx.home, 'late-link'));
    try {
      expect(await ops.stat({ path: '/~/late-link' })).toMatchObject({ type: 'file', size: 5, link_target: 'file.txt' });
    } finally {
      await rm(join(fx.home, 'late-link'));
    }
  });
});
