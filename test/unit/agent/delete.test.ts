import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileOps } from '../../../src/agent/ops/index.js';
import { createPathPolicy } from '../../../src/agent/policy/index.js';
import { tempDir } from '../../helpers/cluster.js';

describe('delete op', () => {
  const dirs: Array<{ path: string; cleanup(): void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
  function setup() {
    const d = tempDir(); dirs.push(d);
    const root = join(d.path, 'root'); const ro = join(d.path, 'ro'); const outside = join(d.path, 'outside');
    for (const p of [root, ro, outside, join(root, 'tree', 'a', 'b')]) mkdirSync(p, { recursive: true });
    writeFileSync(join(root, 'tree', 'f1'), '1');
    writeFileSync(join(root, 'tree', 'a', 'f2'), '2');
    writeFileSync(join(root, 'tree', 'a', 'b', 'f3'), '3');
    writeFileSync(join(outside, 'keep'), 'k');
    symlinkSync(outside, join(root, 'tree', 'link-out'));
    writeFileSync(join(ro, 'precious'), 'p');
    const ops = createFileOps(createPathPolicy([{ path: root, writable: true, sharing: false }, { path: ro, writable: false, sharing: false }]));
    return { root, ro, outside, ops };
  }

  it('deletes a tree bottom-up, removing symlinks without following them', async () => {
    const { root, outside, ops } = setup();
    expect(await ops.delete({ path: '/~/tree', recursive: true, ignoreMissing: false })).toEqual({ files: 4, directories: 3 });
    expect(existsSync(join(root, 'tree'))).toBe(false);
    expect(existsSync(join(outside, 'keep'))).toBe(true);
  });

  it('needs recursive for a directory, honours ignore_missing, refuses roots and read-only roots', async () => {
    const { ro, ops } = setup();
    await expect(ops.delete({ path: '/~/tree', recursive: false, ignoreMissing: false })).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
    expect(await ops.delete({ path: '/~/tree/f1', recursive: false, ignoreMissing: false })).toEqual({ files: 1, directories: 0 });
    await expect(ops.delete({ path: '/~/nope', recursive: false, ignoreMissing: false })).rejects.toMatchObject({ code: 'ClientError.NotFound' });
    expect(await ops.delete({ path: '/~/nope', recursive: false, ignoreMissing: true })).toEqual({ files: 0, directories: 0 });
    await expect(ops.delete({ path: '/~/', recursive: true, ignoreMissing: false })).rejects.toMatchObject({ code: 'EndpointPermissionDenied' });
    await expect(ops.delete({ path: `${ro}/precious`, recursive: false, ignoreMissing: false })).rejects.toMatchObject({ code: 'EndpointPermissionDenied' });
    await expect(ops.delete({ path: '/~/tree/link-out/keep', recursive: false, ignoreMissing: false })).rejects.toMatchObject({ code: 'EndpointPermissionDenied' });
    expect(existsSync(join(ro, 'precious'))).toBe(true);
  });
});
