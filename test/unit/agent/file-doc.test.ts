import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOwnerNames, formatLastModified, formatPermissions, parseIdFile } from '../../../src/agent/ops/index.js';
import { toFerryError } from '../../../src/agent/policy/index.js';
import { FerryError } from '../../../src/common/errors.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: /host/secret/path`), { code, path: '/host/secret/path' });
}

describe('file document fields', () => {
  it('formats last_modified in UTC with a space, truncating sub-seconds', () => {
    expect(formatLastModified(0)).toBe('1970-01-01 00:00:00+00:00');
    expect(formatLastModified(Date.UTC(2021, 8, 2, 18, 4, 47, 999))).toBe('2021-09-02 18:04:47+00:00');
    expect(formatLastModified(Date.UTC(2023, 11, 18, 16, 52, 50))).toBe('2023-12-18 16:52:50+00:00');
  });

  it('formats permissions as 4 octal digits including special bits', () => {
    expect(formatPermissions(0o100644)).toBe('0644');
    expect(formatPermissions(0o40755)).toBe('0755');
    expect(formatPermissions(0o104751)).toBe('4751');
    expect(formatPermissions(0o41777)).toBe('1777');
    expect(formatPermissions(0o120777)).toBe('0777');
  });
});

describe('fs error mapping', () => {
  it('maps errnos to catalog codes without revealing host paths', () => {
    const cases: Array<[string, string]> = [
      ['ENOENT', 'ClientError.NotFound'], ['EACCES', 'ExternalError.PermissionDenied'],
      ['EPERM', 'ExternalError.PermissionDenied'], ['ENOTDIR', 'ExternalError.NotDirectory'],
      ['EIO', 'ExternalError.IOError'], ['ENOSPC', 'ExternalError.IOError'], ['ELOOP', 'ExternalError.IOError'],
    ];
    for (const [code, expected] of cases) {
      const err = toFerryError(errno(code), '/~/x');
      expect(err).toBeInstanceOf(FerryError);
      expect((err as FerryError).code).toBe(expected);
      expect(err.message).toContain('/~/x');
      expect(err.message).not.toContain('/host/secret');
    }
    expect((toFerryError(errno('EEXIST'), '/~/x', { EEXIST: 'ExternalError.MkdirFailed.Exists' }) as FerryError).code).toBe('ExternalError.MkdirFailed.Exists');
  });

  it('passes FerryErrors and programmer errors through unchanged', () => {
    const fe = new FerryError('ClientError.NotFound');
    expect(toFerryError(fe, '/~/x')).toBe(fe);
    const te = new TypeError('bug');
    expect(toFerryError(te, '/~/x')).toBe(te);
  });
});

describe('owner names', () => {
  let dir: string;
  let passwd: string;
  let group: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-owners-'));
    passwd = join(dir, 'passwd');
    group = join(dir, 'group');
    await writeFile(passwd, '# comment\nroot:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nalias:x:1000:1000::/:/bin/sh\nbroken:x:notanumber:1\n\n');
    await writeFile(group, 'root:x:0:\nstaff:x:50:alice,bob\n');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('parses passwd/group lines, first name per id wins, junk ignored', () => {
    const m = parseIdFile('a:x:1:1\nb:x:1:1\nc:x:-1:1\nd:x::1\n:x:5:5\ne:x:7');
    expect([...m.entries()]).toEqual([[1, 'a'], [7, 'e']]);
  });

  it('resolves names and falls back to numbers', async () => {
    const owners = createOwnerNames({ passwdFile: passwd, groupFile: group });
    expect(await owners.user(1000)).toBe('alice');
    expect(await owners.user(0)).toBe('root');
    expect(await owners.group(50)).toBe('staff');
    expect(await owners.user(4242)).toBe('4242');
    expect(await owners.group(4242)).toBe('4242');
  });

  it('reloads on a miss only after refreshMs', async () => {
    let now = 0;
    const p2 = join(dir, 'passwd2');
    await writeFile(p2, 'alice:x:1000:1000\n');
    const owners = createOwnerNames({ passwdFile: p2, groupFile: group, refreshMs: 1000, now: () => now });
    expect(await owners.user(2000)).toBe('2000');
    await writeFile(p2, 'alice:x:1000:1000\nbob:x:2000:2000\n');
    now = 999;
    expect(await owners.user(2000)).toBe('2000');
    now = 1000;
    expect(await owners.user(2000)).toBe('bob');
  });

  it('treats a missing table as empty', async () => {
    const owners = createOwnerNames({ passwdFile: join(dir, 'nope'), groupFile: join(dir, 'nope') });
    expect(await owners.user(0)).toBe('0');
  });
});
