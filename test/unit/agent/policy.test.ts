import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPathPolicy, parseApiPath, type PathPolicy } from '../../../src/agent/policy/index.js';
import { FerryError } from '../../../src/common/errors.js';
import { MAX_NAME_BYTES, MAX_PATH_BYTES } from '../../../src/protocol/limits.js';
import { expectCode, makeFixture, type Fixture } from './fs-fixture.js';

let fx: Fixture;
let policy: PathPolicy;

beforeAll(async () => {
  fx = await makeFixture();
  policy = createPathPolicy(fx.roots);
});
afterAll(async () => { await fx.cleanup(); });

describe('/~/ mapping', () => {
  it('maps /~/, /~ and /~/... into the first root', async () => {
    for (const p of ['/~/', '/~', '/~//']) {
      const r = await policy.resolve(p, 'read');
      expect(r).toMatchObject({ hostPath: fx.home, apiPath: '/~/', isRoot: true, root: fx.roots[0] });
    }
    const r = await policy.resolve('/~/dir/sub/new', 'read');
    expect(r).toMatchObject({ hostPath: join(fx.home, 'dir/sub/new'), apiPath: '/~/dir/sub/new', isRoot: false });
  });

  it('treats ~ as special only as the first component', async () => {
    const r = await policy.resolve('/~/~/x', 'read');
    expect(r.hostPath).toBe(join(fx.home, '~/x'));
    await expectCode(policy.resolve('/~x', 'read'), 'EndpointPermissionDenied');
  });
});

describe('roots', () => {
  it('accepts absolute paths inside a root and reports the root itself', async () => {
    const r = await policy.resolve(`${fx.home}/file.txt`, 'read');
    expect(r).toMatchObject({ hostPath: join(fx.home, 'file.txt'), apiPath: `${fx.home}/file.txt`, isRoot: false });
    const root = await policy.resolve(`${fx.ro}/`, 'read');
    expect(root).toMatchObject({ hostPath: fx.ro, isRoot: true, root: fx.roots[2] });
  });

  it('chooses the longest matching root', async () => {
    const inNested = await policy.resolve(`${fx.nested}/x`, 'read');
    expect(inNested.root).toBe(fx.roots[1]);
    const inHome = await policy.resolve(`${fx.home}/nestedx`, 'read');
    expect(inHome.root).toBe(fx.roots[0]);
    // '/~/' is only a short spelling: the nested root keeps its own flags there too.
    expect(await policy.resolve('/~/nested', 'read')).toMatchObject({ root: fx.roots[1], isRoot: true, apiPath: '/~/nested' });
    await expectCode(policy.resolve('/~/nested/x', 'write'), 'EndpointPermissionDenied');
  });

  it('refuses absolute paths outside every root, including string-prefix look-alikes', async () => {
    for (const p of [fx.outside, `${fx.outside}/secret.txt`, fx.home2, `${fx.home2}/x`, '/', '/etc/passwd', fx.base]) {
      const err = await expectCode(policy.resolve(p, 'read'), 'EndpointPermissionDenied');
      expect(err.message).toMatch(/Path not allowed/);
    }
  });

  it('lists the roots nested below a path', async () => {
    expect((await policy.resolve(fx.home, 'read')).nestedRoots).toEqual([fx.roots[1]]);
    expect((await policy.resolve(`${fx.home}/dir`, 'read')).nestedRoots).toEqual([]);
  });

  it('compares against the real path of a root configured through a symlink', async () => {
    const r = await policy.resolve(`${fx.linkroot}/inside.txt`, 'read');
    expect(r.hostPath).toBe(join(fx.real, 'inside.txt'));
    expect(r.realRoot).toBe(fx.real);
    // The real path is not itself a configured root.
    await expectCode(policy.resolve(`${fx.real}/inside.txt`, 'read'), 'EndpointPermissionDenied');
  });

  it('reports a root missing on the host as NotFound', async () => {
    const p = createPathPolicy([{ path: join(fx.base, 'gone'), writable: true, sharing: false }]);
    await expectCode(p.resolve('/~/x', 'read'), 'ClientError.NotFound');
  });

  it('needs at least one root', () => {
    expect(() => createPathPolicy([])).toThrow(FerryError);
  });
});

describe('syntax is refused before any file is touched', () => {
  // A policy whose root does not exist: any file-system access would give NotFound instead.
  let ghost: PathPolicy;
  beforeAll(() => { ghost = createPathPolicy([{ path: join(fx.base, 'does-not-exist'), writable: false, sharing: false }]); });

  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['relative', 'home/x'],
    ['relative ~', '~/x'],
    ['NUL', '/~/a\0b'],
    ['.. at start', '/~/../outside'],
    ['.. in middle', '/~/dir/../../outside'],
    ['.. at end', '/~/dir/..'],
    ['absolute with ..', '/tmp/../etc'],
    ['.', '/~/./file.txt'],
    ['overlong path', `/~/${'a/'.repeat(MAX_PATH_BYTES / 2)}`],
    ['overlong component', `/~/${'x'.repeat(MAX_NAME_BYTES + 1)}`],
    ['overlong multibyte component', `/~/${'é'.repeat(128)}`],
  ];
  for (const [what, p] of bad) {
    it(`refuses ${what}`, async () => {
      await expectCode(ghost.resolve(p, 'read'), 'ClientError.BadRequest.InvalidPath');
      await expectCode(policy.resolve(p, 'write'), 'ClientError.BadRequest.InvalidPath');
    });
  }

  it('refuses writes to a read-only root before looking at the disk', async () => {
    const err = await expectCode(ghost.resolve('/~/x', 'write'), 'EndpointPermissionDenied');
    expect(err.message).toMatch(/read-only root/);
  });

  it('accepts names at exactly the limits', async () => {
    expect(parseApiPath(`/~/${'é'.repeat(127)}x`).components[0]).toHaveLength(128);
    expect(parseApiPath(`/${'x'.repeat(MAX_NAME_BYTES)}`).components).toHaveLength(1);
  });

  it('refuses a path that only exceeds the limit once /~/ is expanded', async () => {
    // Exactly MAX_PATH_BYTES as sent; longer on the host because the root path replaces '~'.
    const parts: string[] = [];
    let len = '/~'.length;
    while (len + 1 + 200 <= MAX_PATH_BYTES) { parts.push('y'.repeat(200)); len += 201; }
    parts.push('z'.repeat(MAX_PATH_BYTES - len - 1));
    const p = `/~/${parts.join('/')}`;
    expect(Buffer.byteLength(p)).toBe(MAX_PATH_BYTES);
    await expectCode(policy.resolve(p, 'read'), 'ClientError.BadRequest.InvalidPath');
  });
});

describe('read-only roots', () => {
  it('refuses writes into a read-only root, allows reads', async () => {
    const err = await expectCode(policy.resolve(`${fx.ro}/new`, 'write'), 'EndpointPermissionDenied');
    expect(err.message).toMatch(/read-only root/);
    await expect(policy.resolve(`${fx.ro}/r.txt`, 'read')).resolves.toMatchObject({ isRoot: false });
  });

  it('applies the nested root\'s flag, not the outer one\'s', async () => {
    await expectCode(policy.resolve(`${fx.nested}/x`, 'write'), 'EndpointPermissionDenied');
    await expect(policy.resolve(`${fx.home}/x`, 'write')).resolves.toMatchObject({ root: fx.roots[0] });
  });
});

describe('symlinks', () => {
  it('refuses a middle component that leads outside the root', async () => {
    for (const intent of ['read', 'write'] as const) {
      const err = await expectCode(policy.resolve('/~/esc/secret.txt', intent), 'EndpointPermissionDenied');
      expect(err.message).toMatch(/outside the root/);
      await expectCode(policy.resolve('/~/esc/dir/not-yet', intent, { followFinal: false }), 'EndpointPermissionDenied');
    }
  });

  it('refuses writes that reach a nested read-only root through a link', async () => {
    await expect(policy.resolve('/~/link-nested/x', 'read')).resolves.toMatchObject({ hostPath: join(fx.nested, 'x'), root: fx.roots[0] });
    const err = await expectCode(policy.resolve('/~/link-nested/x', 'write'), 'EndpointPermissionDenied');
    expect(err.message).toMatch(/read-only root/);
    await expectCode(policy.resolve('/~/link-nested', 'write'), 'EndpointPermissionDenied');
    // The link itself lives in the writable root and may be renamed.
    await expect(policy.resolve('/~/link-nested', 'write', { followFinal: false })).resolves.toMatchObject({ nestedRoots: [] });
  });

  it('finds nested roots by real path for writes', async () => {
    const alias = join(fx.base, 'alias');
    await mkdir(join(fx.home, 'dir', 'deep'));
    await symlink(join(fx.home, 'dir', 'deep'), alias);
    const p = createPathPolicy([...fx.roots, { path: alias, writable: false, sharing: false }]);
    expect((await p.resolve('/~/dir', 'read')).nestedRoots).toEqual([]);
    const w = await p.resolve('/~/dir', 'write', { followFinal: false });
    expect(w.nestedRoots).toEqual([{ path: alias, writable: false, sharing: false }]);
    await expectCode(p.resolve('/~/dir/deep/x', 'write'), 'EndpointPermissionDenied');
    await expectCode(p.resolve('/~/dir/deep', 'write', { followFinal: false }), 'EndpointPermissionDenied');
    await expect(p.resolve('/~/dir/x', 'write')).resolves.toMatchObject({ nestedRoots: [] });
    // A writable root on the very directory counts as held by it, too.
    const rw = createPathPolicy([...fx.roots, { path: alias, writable: true, sharing: false }]);
    expect((await rw.resolve('/~/dir/deep', 'write', { followFinal: false })).nestedRoots).toEqual([{ path: alias, writable: true, sharing: false }]);
  });

  it('refuses a link into another root (it leaves this root)', async () => {
    await expectCode(policy.resolve('/~/to-ro/r.txt', 'read'), 'EndpointPermissionDenied');
  });

  it('refuses a final component leading outside when it is followed', async () => {
    await expectCode(policy.resolve('/~/secret-link', 'read'), 'EndpointPermissionDenied');
    await expectCode(policy.resolve('/~/esc', 'read'), 'EndpointPermissionDenied');
    await expectCode(policy.resolve('/~/esc', 'write'), 'EndpointPermissionDenied');
  });

  it('accepts the link itself when the final component is not followed', async () => {
    const r = await policy.resolve('/~/secret-link', 'write', { followFinal: false });
    expect(r.hostPath).toBe(join(fx.home, 'secret-link'));
  });

  it('accepts links that stay inside, keeping the link as the last component', async () => {
    const r = await policy.resolve('/~/in-link', 'read');
    expect(r.hostPath).toBe(join(fx.home, 'in-link'));
    const below = await policy.resolve('/~/in-link/new', 'write');
    expect(below.hostPath).toBe(join(fx.home, 'dir', 'new'));
  });

  it('lets a dangling link be read (reported later as invalid_symlink) but never written through', async () => {
    await expect(policy.resolve('/~/dangling', 'read')).resolves.toMatchObject({ hostPath: join(fx.home, 'dangling') });
    const err = await expectCode(policy.resolve('/~/dangling', 'write'), 'EndpointPermissionDenied');
    expect(err.message).toMatch(/dangling/);
    await expect(policy.resolve('/~/dangling', 'write', { followFinal: false })).resolves.toBeDefined();
    await expectCode(policy.resolve('/~/dangling/x/y', 'write'), 'ClientError.NotFound');
  });

  it('reports a file used as a directory as NotDirectory', async () => {
    await expectCode(policy.resolve('/~/file.txt/x/y', 'read'), 'ExternalError.NotDirectory');
  });
});
