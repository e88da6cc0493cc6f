import { lstat, mkdir, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFileOps, runFileOp, type FileOps } from '../../../src/agent/ops/index.js';
import { createPathPolicy } from '../../../src/agent/policy/index.js';
import type { OpRequest } from '../../../src/protocol/link.js';
import { expectCode, makeFixture, type Fixture } from './fs-fixture.js';

let fx: Fixture;
let ops: FileOps;
let work: string;

beforeAll(async () => {
  fx = await makeFixture();
  ops = createFileOps(createPathPolicy(fx.roots));
  work = join(fx.home, 'work');
});
afterAll(async () => { await fx.cleanup(); });
afterEach(async () => { await rm(work, { recursive: true, force: true }); });

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(() => true, () => false);
}

describe('mkdir', () => {
  it('creates a directory, then refuses to create it again', async () => {
    await expect(ops.mkdir({ path: '/~/work' })).resolves.toEqual({});
    expect((await stat(work)).isDirectory()).toBe(true);
    await expectCode(ops.mkdir({ path: '/~/work' }), 'ExternalError.MkdirFailed.Exists');
    await expectCode(ops.mkdir({ path: '/~/file.txt' }), 'ExternalError.MkdirFailed.Exists');
    await ops.mkdir({ path: `${work}/abs/` });
    expect(await exists(join(work, 'abs'))).toBe(true);
  });

  it('needs the parent to exist and be a directory', async () => {
    await expectCode(ops.mkdir({ path: '/~/work/a/b' }), 'ClientError.NotFound');
    expect(await exists(work)).toBe(false);
    await expectCode(ops.mkdir({ path: '/~/file.txt/x' }), 'ExternalError.NotDirectory');
  });

  it('refuses read-only roots, roots themselves and paths outside', async () => {
    const ro = await expectCode(ops.mkdir({ path: `${fx.ro}/new` }), 'EndpointPermissionDenied');
    expect(ro.message).toMatch(/read-only root/);
    await expectCode(ops.mkdir({ path: '/~/nested/new' }), 'EndpointPermissionDenied');
    await expectCode(ops.mkdir({ path: '/~/' }), 'EndpointPermissionDenied');
    await expectCode(ops.mkdir({ path: fx.linkroot }), 'EndpointPermissionDenied');
    await expectCode(ops.mkdir({ path: `${fx.outside}/new` }), 'EndpointPermissionDenied');
    expect(await readdir(fx.ro)).toEqual(['r.txt']);
    expect(await exists(join(fx.outside, 'new'))).toBe(false);
  });

  it('never creates anything outside through a symlink', async () => {
    await expectCode(ops.mkdir({ path: '/~/esc/new' }), 'EndpointPermissionDenied');
    await expectCode(ops.mkdir({ path: '/~/esc/dir/new' }), 'EndpointPermissionDenied');
    // mkdir acts on the name itself: a dangling link there is an existing name.
    await expectCode(ops.mkdir({ path: '/~/dangling' }), 'ExternalError.MkdirFailed.Exists');
    // Writes follow no link at all: one on the way is a refusal.
    await expectCode(ops.mkdir({ path: '/~/dangling/x' }), 'EndpointPermissionDenied');
    expect((await readdir(fx.outside)).sort()).toEqual(['dir', 'secret.txt']);
    expect(await readdir(join(fx.outside, 'dir'))).toEqual([]);
  });
});

describe('rename', () => {
  it('renames a file, keeping its content', async () => {
    await mkdir(work);
    await writeFile(join(work, 'a.txt'), 'A');
    await ops.rename({ oldPath: '/~/work/a.txt', newPath: '/~/work/b.txt' });
    expect(await exists(join(work, 'a.txt'))).toBe(false);
    expect(await readFile(join(work, 'b.txt'), 'utf8')).toBe('A');
    expect((await stat(join(work, 'b.txt'))).nlink).toBe(1);
  });

  it('renames a directory with its contents, across absolute and /~/ spellings', async () => {
    await mkdir(join(work, 'd1'), { recursive: true });
    await writeFile(join(work, 'd1', 'f'), 'f');
    await ops.rename({ oldPath: `${work}/d1`, newPath: '/~/work/d2' });
    expect(await readFile(join(work, 'd2', 'f'), 'utf8')).toBe('f');
    expect(await exists(join(work, 'd1'))).toBe(false);
  });

  it('never overwrites: files, directories, empty directories', async () => {
    await mkdir(join(work, 'd1'), { recursive: true });
    await mkdir(join(work, 'empty'));
    await writeFile(join(work, 'a'), 'A');
    await writeFile(join(work, 'b'), 'B');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/work/b' }), 'ExternalError.RenameFailed.Exists');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/work/d1' }), 'ExternalError.RenameFailed.Exists');
    await expectCode(ops.rename({ oldPath: '/~/work/d1', newPath: '/~/work/empty' }), 'ExternalError.RenameFailed.Exists');
    await expectCode(ops.rename({ oldPath: '/~/work/d1', newPath: '/~/work/a' }), 'ExternalError.RenameFailed.Exists');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/work/a' }), 'ExternalError.RenameFailed.Exists');
    expect(await readFile(join(work, 'a'), 'utf8')).toBe('A');
    expect(await readFile(join(work, 'b'), 'utf8')).toBe('B');
    expect((await readdir(work)).sort()).toEqual(['a', 'b', 'd1', 'empty']);
  });

  it('renames a symlink itself, even one pointing outside', async () => {
    await mkdir(work);
    await ops.rename({ oldPath: '/~/secret-link', newPath: '/~/work/moved-link' });
    try {
      expect((await lstat(join(work, 'moved-link'))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(work, 'moved-link'))).toBe(join(fx.outside, 'secret.txt'));
      expect(await readFile(join(fx.outside, 'secret.txt'), 'utf8')).toBe('secret');
    } finally {
      await ops.rename({ oldPath: '/~/work/moved-link', newPath: '/~/secret-link' });
    }
  });

  it('needs the old path and the new parent to exist', async () => {
    await mkdir(work);
    await writeFile(join(work, 'a'), 'A');
    await expectCode(ops.rename({ oldPath: '/~/work/none', newPath: '/~/work/x' }), 'ClientError.NotFound');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/work/no/x' }), 'ClientError.NotFound');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/file.txt/x' }), 'ExternalError.NotDirectory');
    expect(await readFile(join(work, 'a'), 'utf8')).toBe('A');
  });

  it('refuses moving a directory into itself', async () => {
    await mkdir(join(work, 'd'), { recursive: true });
    await expectCode(ops.rename({ oldPath: '/~/work/d', newPath: '/~/work/d/inner' }), 'ClientError.BadRequest');
  });

  it('refuses roots, read-only roots, directories holding roots and escapes', async () => {
    await mkdir(work);
    await writeFile(join(work, 'a'), 'A');
    await expectCode(ops.rename({ oldPath: '/~/', newPath: `${fx.base}/home-moved` }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/nested', newPath: '/~/work/n' }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/' }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: `${fx.ro}/r.txt`, newPath: '/~/work/r.txt' }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: `${fx.ro}/a` }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/nested/a' }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/esc/a' }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/esc/secret.txt', newPath: '/~/work/s' }), 'EndpointPermissionDenied');
    await expectCode(ops.rename({ oldPath: '/~/work/a', newPath: '/~/../outside/a' }), 'ClientError.BadRequest.InvalidPath');

    // A directory that holds another root (home/nested) cannot move: the root would go with it.
    const p = createPathPolicy([{ path: fx.base, writable: true, sharing: false }, ...fx.roots]);
    const outer = createFileOps(p);
    await expectCode(outer.rename({ oldPath: fx.home, newPath: `${fx.base}/home-moved` }), 'EndpointPermissionDenied');
    expect(await readFile(join(work, 'a'), 'utf8')).toBe('A');
    expect(await exists(join(fx.outside, 'a'))).toBe(false);
    expect(await exists(join(fx.ro, 'a'))).toBe(false);
  });
});

describe('runFileOp', () => {
  const principals = { identityId: null, linkedIdentityIds: [], groupIds: [], authenticated: false };
  const req = (op: string, args: unknown): OpRequest => ({
    type: 'op', id: '1', endpointId: '00000000-0000-4000-8000-000000000000', principals, op, args,
  }) as OpRequest;

  it('dispatches each op', async () => {
    await expect(runFileOp(ops, req('mkdir', { path: '/~/work' }))).resolves.toEqual({});
    await expect(runFileOp(ops, req('stat', { path: '/~/work' }))).resolves.toMatchObject({ name: 'work', type: 'dir' });
    await expect(runFileOp(ops, req('rename', { oldPath: '/~/work', newPath: '/~/work2' }))).resolves.toEqual({});
    await expect(runFileOp(ops, req('ls', { path: '/~/work2', showHidden: true }))).resolves.toEqual({ path: '/~/work2/', entries: [] });
    await rm(join(fx.home, 'work2'), { recursive: true });
  });

  it('rejects arguments that belong to another op, and unknown ops', async () => {
    await expectCode(runFileOp(ops, req('rename', { path: '/~/x' })), 'Link.BadMessage');
    await expectCode(runFileOp(ops, req('ls', { path: '/~/' })), 'Link.BadMessage');
    await expectCode(runFileOp(ops, req('delete', { path: '/~/' })), 'Link.BadMessage');
  });
});
