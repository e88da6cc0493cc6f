import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileOps } from '../../../src/agent/ops/index.js';
import { createPathPolicy } from '../../../src/agent/policy/index.js';
import { expectCode } from './fs-fixture.js';

/**
 * Read-only roots decided by the identity of their directory, whatever spelling reaches them:
 * a directory configured twice, a read-only root that appears after the agent started, and a
 * rename carrying a root along.
 */
describe('roots by identity', () => {
  const temps: string[] = [];
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-ident-'));
    temps.push(d);
    return d;
  };
  afterEach(() => { for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true }); });

  it('a directory configured both writable and read-only is read-only', async () => {
    const base = temp();
    mkdirSync(join(base, 'w'));
    symlinkSync(join(base, 'w'), join(base, 'alias'));
    const ops = createFileOps(createPathPolicy([{ path: join(base, 'w'), writable: true, sharing: false }, { path: join(base, 'alias'), writable: false, sharing: false }]));
    await expectCode(ops.mkdir({ path: `${join(base, 'w')}/new` }), 'EndpointPermissionDenied');
    expect(existsSync(join(base, 'w', 'new'))).toBe(false);
  });

  it('a read-only root that appears after start is protected, and a write walk creates nothing in it', async () => {
    const base = temp();
    mkdirSync(join(base, 'w'));
    symlinkSync(join(base, 'w', 'ro'), join(base, 'ro-alias'));
    const policy = createPathPolicy([{ path: join(base, 'w'), writable: true, sharing: false }, { path: join(base, 'ro-alias'), writable: false, sharing: false }]);
    const ops = createFileOps(policy);
    // The read-only root's directory is made only now.
    mkdirSync(join(base, 'w', 'ro'));
    writeFileSync(join(base, 'w', 'ro', 'precious'), 'p');
    await expectCode(ops.delete({ path: `${join(base, 'w')}/ro/precious`, recursive: false, ignoreMissing: false }), 'EndpointPermissionDenied');
    expect(existsSync(join(base, 'w', 'ro', 'precious'))).toBe(true);
    expect(() => policy.openWriteDir(`${join(base, 'w')}/ro/new/deeper`, 0o755)).toThrow(expect.objectContaining({ code: 'EndpointPermissionDenied' }));
    expect(readdirSync(join(base, 'w', 'ro'))).toEqual(['precious']);
  });

  it('refuses to rename a directory that holds a root configured by another spelling', async () => {
    const base = temp();
    mkdirSync(join(base, 'w', 'a', 'inner'), { recursive: true });
    symlinkSync(join(base, 'w', 'a', 'inner'), join(base, 'inner-alias'));
    const ops = createFileOps(createPathPolicy([{ path: join(base, 'w'), writable: true, sharing: false }, { path: join(base, 'inner-alias'), writable: false, sharing: false }]));
    await expectCode(ops.rename({ oldPath: `${join(base, 'w')}/a`, newPath: `${join(base, 'w')}/b` }), 'EndpointPermissionDenied');
    expect(existsSync(join(base, 'w', 'a', 'inner'))).toBe(true);
  });
});
