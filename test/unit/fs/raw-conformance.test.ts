import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { chooseRawFs, getNativeRawFs, getTwinRawFs, nativeRawFsUnavailableReason, rawFs, rawFsFallbackReason, rawFsKind } from '../../../src/fs/load.js';
import { NATIVE_ABI_VERSION, addonPath, loadBinding, loadNativeRawFs, packageRoot } from '../../../src/fs/raw-native.js';
import { RawFsError, type RawFs } from '../../../src/fs/raw.js';

// One suite, run against every RawFs implementation (STYLE.md 14). The native row is
// skipped only when the addon is not built, and says why.

const { O_CREAT, O_EXCL, O_WRONLY, O_RDONLY, O_RDWR, O_DIRECTORY } = fs.constants;
const NOT_OPEN = 999_999; // above this machine's fd limit, so never an open descriptor

const nativeReason = nativeRawFsUnavailableReason();
if (nativeReason !== undefined) console.warn(`raw-conformance: native row skipped: ${nativeReason}`);
const impls: Array<[string, RawFs | undefined]> = [
  ['native', nativeReason === undefined ? getNativeRawFs() : undefined],
  ['twin', getTwinRawFs()],
];

/** The {code, syscall} a call throws, checking it is a well-formed RawFsError on the way. */
export function failure(fn: () => unknown): { code: string; syscall: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RawFsError);
    const e = err as RawFsError;
    expect(e.errno).toBe(-(osConstants.errno as Record<string, number>)[e.code]!);
    return { code: e.code, syscall: e.syscall };
  }
  throw new Error('expected the call to throw');
}

describe.each(impls)('RawFs conformance: %s', (label, maybeRaw) => {
  if (maybeRaw === undefined) {
    it.skip(`native addon not built: ${nativeReason}`, () => undefined);
    return;
  }
  const raw: RawFs = maybeRaw;
  let dir: string;
  let root: number;
  const opened: number[] = [];
  const track = (fd: number): number => (opened.push(fd), fd);
  const p = (...parts: string[]): string => join(dir, ...parts);
  const openDir = (parent: number, name: string): number => track(raw.openat(parent, name, O_RDONLY | O_DIRECTORY));

  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), `ferry-rawfs-${label}-`));
    root = track(raw.openRoot(dir));
  });
  afterEach(() => {
    for (const fd of opened.splice(0)) {
      try {
        fs.closeSync(fd);
      } catch {
        // closed by the test itself
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports its kind', () => {
    expect(raw.kind).toBe(label);
  });

  describe('openat', () => {
    it('creates with O_CREAT|O_EXCL, then fails EEXIST', () => {
      const fd = track(raw.openat(root, 'f', O_CREAT | O_EXCL | O_WRONLY, 0o640));
      fs.writeSync(fd, 'hello');
      expect(fs.readFileSync(p('f'), 'utf8')).toBe('hello');
      expect(fs.statSync(p('f')).mode & 0o777 & ~0o640).toBe(0); // 0o640 less the umask
      expect(failure(() => raw.openat(root, 'f', O_CREAT | O_EXCL | O_WRONLY))).toEqual({ code: 'EEXIST', syscall: 'openat' });
    });

    it('defaults mode to 0o666 (less umask) and sets close-on-exec', () => {
      const fd = track(raw.openat(root, 'f', O_CREAT | O_WRONLY));
      expect(fs.statSync(p('f')).mode & 0o777 & ~0o666).toBe(0);
      const flags = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/flags:\s+([0-7]+)/)![1]!;
      expect(Number.parseInt(flags, 8) & 0o2000000).toBe(0o2000000);
    });

    it('never follows a link: to a file, to a directory, dangling, even with O_CREAT', () => {
      fs.writeFileSync(p('target'), 'x');
      fs.mkdirSync(p('tdir'));
      fs.symlinkSync('target', p('lfile'));
      fs.symlinkSync('tdir', p('ldir'));
      fs.symlinkSync('nowhere', p('ldangling'));
      const loop = { code: 'ELOOP', syscall: 'openat' };
      expect(failure(() => raw.openat(root, 'lfile', O_RDONLY))).toEqual(loop);
      // Linux alone would say ENOTDIR here (O_DIRECTORY is checked first); RawFs says ELOOP.
      expect(failure(() => raw.openat(root, 'ldir', O_RDONLY | O_DIRECTORY))).toEqual(loop);
      expect(failure(() => raw.openat(root, 'lfile', O_RDONLY | O_DIRECTORY))).toEqual(loop);
      expect(failure(() => raw.openat(root, 'ldangling', O_RDONLY | O_DIRECTORY))).toEqual(loop);
      expect(failure(() => raw.openat(root, 'ldir', O_RDONLY))).toEqual(loop);
      expect(failure(() => raw.openat(root, 'ldangling', O_RDONLY))).toEqual(loop);
      expect(failure(() => raw.openat(root, 'ldangling', O_CREAT | O_WRONLY))).toEqual(loop);
      // O_EXCL refuses whatever exists, a link included, before looking further.
      expect(failure(() => raw.openat(root, 'ldangling', O_CREAT | O_EXCL | O_WRONLY))).toEqual({ code: 'EEXIST', syscall: 'openat' });
      expect(fs.existsSync(p('nowhere'))).toBe(false);
    });

    it('gives ENOTDIR for O_DIRECTORY on a file and ENOENT for nothing', () => {
      fs.writeFileSync(p('f'), '');
      expect(failure(() => raw.openat(root, 'f', O_RDONLY | O_DIRECTORY))).toEqual({ code: 'ENOTDIR', syscall: 'openat' });
      expect(failure(() => raw.openat(root, 'missing', O_RDONLY))).toEqual({ code: 'ENOENT', syscall: 'openat' });
    });

    it('gives ENOTDIR when the dirFd is a file', () => {
      fs.writeFileSync(p('f'), '');
      const fd = track(raw.openat(root, 'f', O_RDONLY));
      expect(failure(() => raw.openat(fd, 'x', O_RDONLY))).toEqual({ code: 'ENOTDIR', syscall: 'openat' });
    });

    it('keeps working in a directory renamed away while its fd is held', () => {
      fs.mkdirSync(p('a'));
      const a = openDir(root, 'a');
      fs.renameSync(p('a'), p('moved'));
      track(raw.openat(a, 'new', O_CREAT | O_EXCL | O_WRONLY));
      expect(fs.existsSync(p('moved', 'new'))).toBe(true);
      expect(fs.existsSync(p('a'))).toBe(false);
    });

    it('acts on the original directory after it was swapped for a link', () => {
      fs.mkdirSync(p('a'));
      fs.writeFileSync(p('a', 'mine'), 'm');
      fs.mkdirSync(p('outside'));
      fs.writeFileSync(p('outside', 'secret'), 's');
      const a = openDir(root, 'a');
      fs.renameSync(p('a'), p('a-old'));
      fs.symlinkSync(p('outside'), p('a'));

      expect(failure(() => raw.statat(a, 'secret'))).toEqual({ code: 'ENOENT', syscall: 'fstatat' });
      expect(raw.statat(a, 'mine').kind).toBe('file');
      track(raw.openat(a, 'created', O_CREAT | O_EXCL | O_WRONLY));
      raw.mkdirat(a, 'sub', 0o755);
      raw.symlinkat('t', a, 'lnk');
      raw.unlinkat(a, 'mine', false);
      expect(raw.readdir(a).map((e) => e.name).sort()).toEqual(['created', 'lnk', 'sub']);
      expect(fs.readdirSync(p('a-old')).sort()).toEqual(['created', 'lnk', 'sub']);
      expect(fs.readdirSync(p('outside'))).toEqual(['secret']);
      // Going in again by name meets the link, which is refused.
      expect(failure(() => raw.openat(root, 'a', O_RDONLY | O_DIRECTORY))).toEqual({ code: 'ELOOP', syscall: 'openat' });
    });
  });

  describe('openRoot', () => {
    it('follows a link to the configured directory', () => {
      fs.mkdirSync(p('real'));
      fs.symlinkSync(p('real'), p('alias'));
      const fd = track(raw.openRoot(p('alias')));
      expect(raw.fstat(fd).ino).toBe(fs.statSync(p('real'), { bigint: true }).ino);
    });

    it('refuses relative paths, NUL, files and missing paths', () => {
      fs.writeFileSync(p('f'), '');
      expect(failure(() => raw.openRoot('relative/path'))).toEqual({ code: 'EINVAL', syscall: 'open' });
      expect(failure(() => raw.openRoot(''))).toEqual({ code: 'EINVAL', syscall: 'open' });
      expect(failure(() => raw.openRoot(`${dir}\0x`))).toEqual({ code: 'EINVAL', syscall: 'open' });
      expect(failure(() => raw.openRoot(p('f')))).toEqual({ code: 'ENOTDIR', syscall: 'open' });
      expect(failure(() => raw.openRoot(p('missing')))).toEqual({ code: 'ENOENT', syscall: 'open' });
    });
  });

  describe('statat and fstat', () => {
    it('does not follow links and matches lstat field for field', () => {
      fs.writeFileSync(p('f'), 'twelve bytes');
      fs.symlinkSync('f', p('l'));
      fs.mkdirSync(p('d'));
      for (const [name, kind] of [['f', 'file'], ['l', 'symlink'], ['d', 'dir']] as const) {
        const s = raw.statat(root, name);
        const ref = fs.lstatSync(p(name));
        // Device and inode exactly (bigint), the rest as Node's numbers.
        const exact = fs.lstatSync(p(name), { bigint: true });
        expect(s).toEqual({
          dev: exact.dev, ino: exact.ino, mode: ref.mode, nlink: ref.nlink, uid: ref.uid, gid: ref.gid,
          size: ref.size, mtimeMs: ref.mtimeMs, atimeMs: ref.atimeMs, kind,
        });
      }
    });

    it('reports a FIFO as other, and fstat matches fs.fstatSync', () => {
      expect(spawnSync('mkfifo', [p('fifo')]).status).toBe(0);
      expect(raw.statat(root, 'fifo').kind).toBe('other');
      const ref = fs.fstatSync(root);
      const exact = fs.fstatSync(root, { bigint: true });
      expect(raw.fstat(root)).toMatchObject({ dev: exact.dev, ino: exact.ino, mode: ref.mode, kind: 'dir', mtimeMs: ref.mtimeMs });
    });

    it('fails ENOENT and ENOTDIR like fstatat', () => {
      fs.writeFileSync(p('f'), '');
      const f = track(raw.openat(root, 'f', O_RDONLY));
      expect(failure(() => raw.statat(root, 'missing'))).toEqual({ code: 'ENOENT', syscall: 'fstatat' });
      expect(failure(() => raw.statat(f, 'x'))).toEqual({ code: 'ENOTDIR', syscall: 'fstatat' });
    });

    it('statatIfAny: the same answer as statat, undefined for a missing name, other errors as statat', () => {
      fs.writeFileSync(p('f'), 'twelve bytes');
      fs.symlinkSync('missing', p('dangling'));
      for (const name of ['f', 'dangling']) expect(raw.statatIfAny(root, name)).toEqual(raw.statat(root, name));
      expect(raw.statatIfAny(root, 'missing')).toBeUndefined();
      const f = track(raw.openat(root, 'f', O_RDONLY));
      expect(failure(() => raw.statatIfAny(f, 'x'))).toEqual({ code: 'ENOTDIR', syscall: 'fstatat' });
    });
  });

  describe('mkdirat and unlinkat', () => {
    it('makes a directory with the mode, and fails EEXIST over anything, a link included', () => {
      raw.mkdirat(root, 'd', 0o700);
      expect(fs.lstatSync(p('d')).mode & 0o777).toBe(0o700);
      fs.symlinkSync('nowhere', p('l'));
      expect(failure(() => raw.mkdirat(root, 'd', 0o755))).toEqual({ code: 'EEXIST', syscall: 'mkdirat' });
      expect(failure(() => raw.mkdirat(root, 'l', 0o755))).toEqual({ code: 'EEXIST', syscall: 'mkdirat' });
      expect(fs.existsSync(p('nowhere'))).toBe(false);
    });

    it('unlinks files and links (not their targets), removes empty directories', () => {
      fs.writeFileSync(p('f'), '');
      fs.writeFileSync(p('target'), 't');
      fs.symlinkSync('target', p('l'));
      fs.mkdirSync(p('d'));
      raw.unlinkat(root, 'f', false);
      raw.unlinkat(root, 'l', false);
      raw.unlinkat(root, 'd', true);
      expect(fs.readdirSync(dir)).toEqual(['target']);
    });

    it('gives EISDIR, ENOTEMPTY, ENOTDIR and ENOENT where the kernel does', () => {
      fs.mkdirSync(p('d'));
      fs.writeFileSync(p('d', 'x'), '');
      fs.writeFileSync(p('f'), '');
      fs.mkdirSync(p('tdir'));
      fs.symlinkSync('tdir', p('ldir'));
      expect(failure(() => raw.unlinkat(root, 'd', false))).toEqual({ code: 'EISDIR', syscall: 'unlinkat' });
      expect(failure(() => raw.unlinkat(root, 'd', true))).toEqual({ code: 'ENOTEMPTY', syscall: 'unlinkat' });
      expect(failure(() => raw.unlinkat(root, 'f', true))).toEqual({ code: 'ENOTDIR', syscall: 'unlinkat' });
      expect(failure(() => raw.unlinkat(root, 'ldir', true))).toEqual({ code: 'ENOTDIR', syscall: 'unlinkat' });
      expect(failure(() => raw.unlinkat(root, 'missing', false))).toEqual({ code: 'ENOENT', syscall: 'unlinkat' });
      expect(fs.existsSync(p('tdir'))).toBe(true);
    });
  });

  describe('renameat', () => {
    it('with noReplace fails EEXIST and leaves both files', () => {
      fs.writeFileSync(p('a'), 'A');
      fs.writeFileSync(p('b'), 'B');
      expect(failure(() => raw.renameat(root, 'a', root, 'b', true))).toEqual({ code: 'EEXIST', syscall: 'renameat' });
      expect([fs.readFileSync(p('a'), 'utf8'), fs.readFileSync(p('b'), 'utf8')]).toEqual(['A', 'B']);
      expect(fs.statSync(p('a')).nlink).toBe(1);
    });

    it('with noReplace moves into a free name, across directories', () => {
      fs.writeFileSync(p('a'), 'A');
      fs.mkdirSync(p('d'));
      const d = openDir(root, 'd');
      raw.renameat(root, 'a', d, 'moved', true);
      expect(fs.readFileSync(p('d', 'moved'), 'utf8')).toBe('A');
      expect(fs.existsSync(p('a'))).toBe(false);
      expect(fs.statSync(p('d', 'moved')).nlink).toBe(1);
    });

    it('with noReplace moves a link itself, never its target', () => {
      fs.writeFileSync(p('target'), 'T');
      fs.symlinkSync('target', p('l'));
      raw.renameat(root, 'l', root, 'l2', true);
      expect(fs.readlinkSync(p('l2'))).toBe('target');
      expect(fs.existsSync(p('l'))).toBe(false);
    });

    it('replaces when noReplace is false', () => {
      fs.writeFileSync(p('a'), 'A');
      fs.writeFileSync(p('b'), 'B');
      raw.renameat(root, 'a', root, 'b', false);
      expect(fs.readdirSync(dir)).toEqual(['b']);
      expect(fs.readFileSync(p('b'), 'utf8')).toBe('A');
    });

    it('renames a directory with noReplace, and refuses an existing target of any kind', () => {
      fs.mkdirSync(p('d'));
      fs.writeFileSync(p('d', 'inside'), '');
      fs.mkdirSync(p('empty'));
      fs.writeFileSync(p('f'), '');
      expect(failure(() => raw.renameat(root, 'd', root, 'empty', true))).toEqual({ code: 'EEXIST', syscall: 'renameat' });
      expect(failure(() => raw.renameat(root, 'd', root, 'f', true))).toEqual({ code: 'EEXIST', syscall: 'renameat' });
      expect(fs.existsSync(p('d', 'inside'))).toBe(true);
      raw.renameat(root, 'd', root, 'd2', true);
      expect(fs.existsSync(p('d2', 'inside'))).toBe(true);
    });

    it('fails ENOENT for a missing source and EINVAL for a directory into itself', () => {
      fs.mkdirSync(p('d'));
      const d = openDir(root, 'd');
      for (const noReplace of [true, false]) {
        expect(failure(() => raw.renameat(root, 'missing', root, 'x', noReplace))).toEqual({ code: 'ENOENT', syscall: 'renameat' });
        expect(failure(() => raw.renameat(root, 'd', d, 'inner', noReplace))).toEqual({ code: 'EINVAL', syscall: 'renameat' });
      }
    });
  });

  describe('linkat, symlinkat, readlinkat', () => {
    it('links a symlink itself, not its target', () => {
      fs.writeFileSync(p('target'), 'T');
      fs.symlinkSync('target', p('l'));
      raw.linkat(root, 'l', root, 'l2');
      expect(raw.statat(root, 'l2').kind).toBe('symlink');
      expect(raw.statat(root, 'l2').ino).toBe(fs.lstatSync(p('l'), { bigint: true }).ino);
      expect(raw.readlinkat(root, 'l2')).toBe('target');
      expect(fs.statSync(p('target')).nlink).toBe(1);
    });

    it('links files, fails EEXIST on a taken name and EPERM on a directory', () => {
      fs.writeFileSync(p('f'), 'F');
      fs.mkdirSync(p('d'));
      const d = openDir(root, 'd');
      raw.linkat(root, 'f', d, 'f2');
      expect(fs.statSync(p('f')).nlink).toBe(2);
      expect(failure(() => raw.linkat(root, 'f', d, 'f2'))).toEqual({ code: 'EEXIST', syscall: 'linkat' });
      expect(failure(() => raw.linkat(root, 'd', root, 'd2'))).toEqual({ code: 'EPERM', syscall: 'linkat' });
    });

    it('stores a target as given and reads it back; readlink of a non-link is EINVAL', () => {
      for (const [name, target] of [['rel', '../up/x'], ['abs', '/etc/passwd'], ['uni', 'ünï/€'], ['dots', '..']]) {
        raw.symlinkat(target!, root, name!);
        expect(fs.readlinkSync(p(name!))).toBe(target);
        expect(raw.readlinkat(root, name!)).toBe(target);
      }
      fs.writeFileSync(p('f'), '');
      expect(failure(() => raw.symlinkat('x', root, 'f'))).toEqual({ code: 'EEXIST', syscall: 'symlinkat' });
      expect(failure(() => raw.symlinkat('a\0b', root, 'n'))).toEqual({ code: 'EINVAL', syscall: 'symlinkat' });
      expect(failure(() => raw.readlinkat(root, 'f'))).toEqual({ code: 'EINVAL', syscall: 'readlinkat' });
      expect(failure(() => raw.readlinkat(root, 'missing'))).toEqual({ code: 'ENOENT', syscall: 'readlinkat' });
    });

    it('reads a long link target whole', () => {
      const target = `${'long/'.repeat(800)}end`;
      raw.symlinkat(target, root, 'l');
      expect(raw.readlinkat(root, 'l')).toBe(target);
    });
  });

  describe('readdir', () => {
    it('lists every kind, without . and .., and leaves the fd usable', () => {
      fs.writeFileSync(p('file'), '');
      fs.mkdirSync(p('dir'));
      fs.symlinkSync('dir', p('link'));
      fs.symlinkSync('nowhere', p('dangling'));
      expect(spawnSync('mkfifo', [p('fifo')]).status).toBe(0);
      const want = [
        { name: 'dangling', kind: 'symlink' },
        { name: 'dir', kind: 'dir' },
        { name: 'fifo', kind: 'other' },
        { name: 'file', kind: 'file' },
        { name: 'link', kind: 'symlink' },
      ];
      const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
      expect(raw.readdir(root).sort(byName)).toEqual(want);
      expect(raw.readdir(root).sort(byName)).toEqual(want);
      track(raw.openat(root, 'after', O_CREAT | O_EXCL | O_WRONLY));
      expect(raw.readdir(root).map((e) => e.name)).toContain('after');
    });

    it('does not move the offset of the fd it was given', () => {
      fs.mkdirSync(p('sub'));
      for (let i = 0; i < 50; i++) fs.writeFileSync(p('sub', `f${i}`), '');
      const fd = openDir(root, 'sub');
      const pos = (): string => fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/pos:\s+(\d+)/)![1]!;
      expect(pos()).toBe('0');
      expect(raw.readdir(fd)).toHaveLength(50);
      expect(pos()).toBe('0');
      expect(raw.readdir(fd)).toHaveLength(50);
    });

    it('returns a name that is not UTF-8 with its raw bytes', () => {
      const bytes = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74]);
      fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), bytes]), '');
      fs.writeFileSync(p('good-é'), '');
      const entries = raw.readdir(root);
      const bad = entries.find((e) => e.raw !== undefined)!;
      expect(bad.raw).toEqual(bytes);
      expect(bad.name).toBe(bytes.toString('utf8'));
      expect(bad.kind).toBe('file');
      expect(entries.find((e) => e.name === 'good-é')).toEqual({ name: 'good-é', kind: 'file' });
    });

    it('fails ENOTDIR on a file fd', () => {
      fs.writeFileSync(p('f'), '');
      const f = track(raw.openat(root, 'f', O_RDONLY));
      expect(failure(() => raw.readdir(f))).toEqual({ code: 'ENOTDIR', syscall: 'readdir' });
    });
  });

  describe('fchmod, futimes, syncfs, close', () => {
    it('changes the mode through the fd', () => {
      const fd = track(raw.openat(root, 'f', O_CREAT | O_RDWR, 0o600));
      raw.fchmod(fd, 0o4751);
      expect(fs.statSync(p('f')).mode & 0o7777).toBe(0o4751);
      raw.fchmod(fd, 0o644);
      expect(raw.fstat(fd).mode & 0o7777).toBe(0o644);
    });

    it('sets times to the microsecond', () => {
      const fd = track(raw.openat(root, 'f', O_CREAT | O_RDWR, 0o600));
      const atimeMs = 1_600_000_000_000.25;
      const mtimeMs = 1_700_000_000_123.457;
      raw.futimes(fd, atimeMs, mtimeMs);
      const st = fs.fstatSync(fd, { bigint: true });
      const got = raw.fstat(fd);
      expect(Math.abs(got.mtimeMs - mtimeMs)).toBeLessThanOrEqual(0.001);
      expect(Math.abs(got.atimeMs - atimeMs)).toBeLessThanOrEqual(0.001);
      expect(st.mtimeNs).toBe(1_700_000_000_123_456_000n); // whole microseconds: libuv's rule, kept by both
      raw.futimes(fd, 0, -1500.75);
      expect(fs.fstatSync(fd, { bigint: true }).mtimeNs).toBe(-1_500_000_000n);
      expect(failure(() => raw.futimes(fd, Number.NaN, 0))).toEqual({ code: 'EINVAL', syscall: 'futimens' });
      expect(failure(() => raw.futimes(fd, 0, Infinity))).toEqual({ code: 'EINVAL', syscall: 'futimens' });
    });

    it('syncs the file system of a directory or file fd', () => {
      const fd = track(raw.openat(root, 'f', O_CREAT | O_WRONLY, 0o600));
      expect(() => raw.syncfs(root)).not.toThrow();
      expect(() => raw.syncfs(fd)).not.toThrow();
    });

    it('syncs off the calling thread, and the caller may close its fd at once', async () => {
      const fd = raw.openat(root, 'f', O_CREAT | O_WRONLY, 0o600);
      const pending = raw.syncfsAsync(fd);
      raw.close(fd);
      await expect(pending).resolves.toBeUndefined();
      await expect(raw.syncfsAsync(root)).resolves.toBeUndefined();
      for (const bad of [NOT_OPEN, -1, 1.5]) {
        const err = await raw.syncfsAsync(bad).then(() => null, (e: { code?: string; syscall?: string }) => ({ code: e.code, syscall: e.syscall }));
        expect(err, `syncfsAsync(${bad})`).toEqual({ code: 'EBADF', syscall: 'syncfs' });
      }
    });

    it('closes once; a second close is EBADF', () => {
      const fd = raw.openat(root, 'f', O_CREAT | O_WRONLY, 0o600);
      raw.close(fd);
      expect(failure(() => raw.close(fd))).toEqual({ code: 'EBADF', syscall: 'close' });
    });
  });

  describe('argument rules', () => {
    const badNames = ['', '.', '..', 'a/b', '/', 'trailing/', 'nul\0', 'x'.repeat(256), 'é'.repeat(128)];
    const calls: Array<[string, (name: string) => unknown]> = [
      ['openat', (n) => raw.openat(root, n, O_RDONLY)],
      ['fstatat', (n) => raw.statat(root, n)],
      ['fstatat', (n) => raw.statatIfAny(root, n)],
      ['mkdirat', (n) => raw.mkdirat(root, n, 0o755)],
      ['unlinkat', (n) => raw.unlinkat(root, n, false)],
      ['renameat', (n) => raw.renameat(root, n, root, 'ok', false)],
      ['renameat', (n) => raw.renameat(root, 'ok', root, n, true)],
      ['linkat', (n) => raw.linkat(root, n, root, 'ok')],
      ['linkat', (n) => raw.linkat(root, 'ok', root, n)],
      ['symlinkat', (n) => raw.symlinkat('t', root, n)],
      ['readlinkat', (n) => raw.readlinkat(root, n)],
    ];

    it('refuses every name that is not one component with EINVAL, before any system call', () => {
      fs.writeFileSync(p('ok'), '');
      for (const [syscall, call] of calls) {
        for (const name of badNames) {
          expect(failure(() => call(name)), `${syscall}(${JSON.stringify(name)})`).toEqual({ code: 'EINVAL', syscall });
        }
      }
      expect(fs.readdirSync(dir)).toEqual(['ok']);
    });

    it('accepts a name of exactly 255 bytes', () => {
      const name = `${'é'.repeat(127)}x`;
      expect(Buffer.byteLength(name)).toBe(255);
      track(raw.openat(root, name, O_CREAT | O_EXCL | O_WRONLY));
      expect(raw.statat(root, name).kind).toBe('file');
    });

    it('gives EBADF for a descriptor that is not open, negative or not an integer', () => {
      fs.writeFileSync(p('f'), '');
      const fdCalls: Array<[string, (fd: number) => unknown]> = [
        ['openat', (fd) => raw.openat(fd, 'f', O_RDONLY)],
        ['fstatat', (fd) => raw.statat(fd, 'f')],
        ['fstatat', (fd) => raw.statatIfAny(fd, 'f')],
        ['fstatat', (fd) => raw.statatIfAny(fd, 'missing')],
        ['fstat', (fd) => raw.fstat(fd)],
        ['mkdirat', (fd) => raw.mkdirat(fd, 'n', 0o755)],
        ['unlinkat', (fd) => raw.unlinkat(fd, 'f', false)],
        ['renameat', (fd) => raw.renameat(fd, 'f', root, 'g', false)],
        ['renameat', (fd) => raw.renameat(root, 'f', fd, 'g', true)],
        ['linkat', (fd) => raw.linkat(fd, 'f', root, 'g')],
        ['linkat', (fd) => raw.linkat(root, 'f', fd, 'g')],
        ['symlinkat', (fd) => raw.symlinkat('t', fd, 'n')],
        ['readlinkat', (fd) => raw.readlinkat(fd, 'f')],
        ['readdir', (fd) => raw.readdir(fd)],
        ['fchmod', (fd) => raw.fchmod(fd, 0o600)],
        ['futimens', (fd) => raw.futimes(fd, 0, 0)],
        ['syncfs', (fd) => raw.syncfs(fd)],
        ['close', (fd) => raw.close(fd)],
      ];
      for (const [syscall, call] of fdCalls) {
        for (const fd of [NOT_OPEN, -1, -100, 1.5, Number.NaN]) {
          expect(failure(() => call(fd)), `${syscall}(${fd})`).toEqual({ code: 'EBADF', syscall });
        }
      }
      expect(fs.readdirSync(dir)).toEqual(['f']);
    });
  });
});

describe('twin specifics', () => {
  it('types entries itself where Node cannot (DT_UNKNOWN with Buffer names)', async () => {
    // Where d_type is DT_UNKNOWN, Node's typed readdir throws a TypeError for Buffer names;
    // simulate that file system by making the typed call throw.
    const { createRequire, syncBuiltinESMExports } = await import('node:module');
    const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const original = cjsFs.readdirSync;
    let typedCalls = 0;
    const dir = fs.mkdtempSync(join(tmpdir(), 'ferry-twin-'));
    try {
      fs.writeFileSync(join(dir, 'f'), '');
      fs.mkdirSync(join(dir, 'd'));
      fs.symlinkSync('f', join(dir, 'l'));
      cjsFs.readdirSync = ((path: fs.PathLike, options?: { withFileTypes?: boolean }) => {
        if (options?.withFileTypes) typedCalls += 1;
        if (options?.withFileTypes) throw new TypeError('The "path" argument must be of type string');
        return (original as (p: fs.PathLike, o?: unknown) => unknown)(path, options);
      }) as typeof fs.readdirSync;
      syncBuiltinESMExports();
      const twin = getTwinRawFs();
      const fd = twin.openRoot(dir);
      try {
        expect(twin.readdir(fd).sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual([
          { name: 'd', kind: 'dir' },
          { name: 'f', kind: 'file' },
          { name: 'l', kind: 'symlink' },
        ]);
        expect(typedCalls).toBe(1);
      } finally {
        twin.close(fd);
      }
    } finally {
      cjsFs.readdirSync = original;
      syncBuiltinESMExports();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loader', () => {
  const twin = getTwinRawFs();
  const fakeNative = { ...twin, kind: 'native' } as RawFs;

  it('prefers the addon, unless FERRY_NO_NATIVE=1 or it fails to load', () => {
    expect(chooseRawFs({}, () => fakeNative)).toEqual({ fs: fakeNative, kind: 'native', fallbackReason: undefined });
    expect(chooseRawFs({ FERRY_NO_NATIVE: '0' }, () => fakeNative).kind).toBe('native');
    expect(chooseRawFs({ FERRY_NO_NATIVE: '1' }, () => fakeNative)).toEqual({ fs: twin, kind: 'twin', fallbackReason: 'FERRY_NO_NATIVE=1' });
    const failed = chooseRawFs({}, () => {
      throw new Error('no addon here');
    });
    expect(failed).toEqual({ fs: twin, kind: 'twin', fallbackReason: 'no addon here' });
  });

  it('made its choice for this process accordingly', () => {
    const want = process.env.FERRY_NO_NATIVE === '1' || nativeReason !== undefined ? 'twin' : 'native';
    expect([rawFsKind, rawFs.kind]).toEqual([want, want]);
    expect(rawFsFallbackReason === undefined).toBe(want === 'native');
  });

  it('finds the package root beside native/, from src or dist alike', () => {
    const repo = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
    expect(packageRoot()).toBe(repo);
    expect(packageRoot(join(repo, 'dist', 'fs'))).toBe(repo);
    expect(addonPath(repo)).toBe(join(repo, 'native', 'build', 'Release', 'ferry_native.node'));
  });

  it('refuses a missing addon and one built for another ABI', () => {
    const tmp = fs.mkdtempSync(join(tmpdir(), 'ferry-loader-'));
    try {
      expect(() => loadNativeRawFs(join(tmp, 'none.node'))).toThrow(/is not built/);
      // require() loads a .cjs as JavaScript: enough to stand in for a stale build.
      fs.writeFileSync(join(tmp, 'stale.cjs'), 'module.exports = { abiVersion: 99 };');
      expect(() => loadBinding(join(tmp, 'stale.cjs'))).toThrow(new RegExp(`ABI 99, expected ${NATIVE_ABI_VERSION}`));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe.runIf(nativeReason === undefined)('native addon in worker threads', () => {
  it('loads in several workers at once (context-aware) and works in each', async () => {
    const { Worker } = await import('node:worker_threads');
    const dir = fs.mkdtempSync(join(tmpdir(), 'ferry-workers-'));
    fs.writeFileSync(join(dir, 'f'), '');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const n = require(workerData.addon);
      const names = [];
      for (let i = 0; i < 200; i++) {
        const fd = n.openRoot(workerData.dir);
        names.push(n.readdir(fd).filter((x) => typeof x === 'string').join());
        n.close(fd);
      }
      parentPort.postMessage({ abi: n.abiVersion, names: [...new Set(names)] });
    `;
    try {
      const results = await Promise.all(
        Array.from({ length: 4 }, () => new Promise((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { addon: addonPath(), dir } });
          w.once('message', resolve);
          w.once('error', reject);
        })),
      );
      expect(results).toEqual(Array.from({ length: 4 }, () => ({ abi: NATIVE_ABI_VERSION, names: ['f'] })));
      const native = getNativeRawFs();
      const fd = native.openRoot(dir);
      expect(native.readdir(fd).map((e) => e.name)).toEqual(['f']);
      native.close(fd);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('install script (native/build.mjs)', () => {
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  const script = join(repo, 'native', 'build.mjs');
  const FALLBACK_LINE = /^ferry: native addon not built \(.+\); using the TypeScript fallback\n$/;

  /** A copy of native/'s sources to build in, and a bin dir holding only the named tools. */
  function sandbox(tools: Record<string, string>): { copy: string; bin: string; cleanup(): void } {
    const base = fs.mkdtempSync(join(tmpdir(), 'ferry-build-'));
    const copy = join(base, 'native');
    const bin = join(base, 'bin');
    fs.mkdirSync(bin);
    fs.mkdirSync(copy);
    fs.cpSync(join(repo, 'native', 'binding.gyp'), join(copy, 'binding.gyp'));
    fs.cpSync(join(repo, 'native', 'src'), join(copy, 'src'), { recursive: true });
    for (const [name, target] of Object.entries(tools)) fs.symlinkSync(target, join(bin, name));
    return { copy, bin, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
  }

  /** This process's environment without FERRY_NO_NATIVE, which would skip the build under test. */
  function buildEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    delete env.FERRY_NO_NATIVE;
    return env;
  }

  function which(tool: string): string | undefined {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : undefined;
  }

  const python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout?.trim();
  const make = which('make');
  const variants: Array<[string, Record<string, string>]> = [
    ['only node on PATH', { node: process.execPath }],
    ...(python ? [['node and python, no make', { node: process.execPath, python3: python }] as [string, Record<string, string>]] : []),
    ...(python && make
      ? [['make present, but the compiler is /bin/false', { node: process.execPath, python3: python, make }] as [string, Record<string, string>]]
      : []),
  ];

  it.each(variants)('installs without a compiler (%s): exit 0 and one fallback line', (_label, tools) => {
    const box = sandbox(tools);
    const real = addonPath();
    const realBefore = fs.existsSync(real) ? fs.statSync(real).mtimeMs : undefined;
    try {
      const r = spawnSync(process.execPath, [script], {
        encoding: 'utf8',
        env: buildEnv({ PATH: box.bin, CC: '/bin/false', CXX: '/bin/false', FERRY_NATIVE_BUILD_DIR: box.copy }),
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(FALLBACK_LINE);
      expect(fs.existsSync(join(box.copy, 'build', 'Release', 'ferry_native.node'))).toBe(false);
      expect(fs.existsSync(real) ? fs.statSync(real).mtimeMs : undefined).toBe(realBefore);
    } finally {
      box.cleanup();
    }
  });

  it('skips the build when FERRY_NO_NATIVE=1', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, FERRY_NO_NATIVE: '1', FERRY_NATIVE_BUILD_DIR: '/nonexistent' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ferry: native addon not built (FERRY_NO_NATIVE=1); using the TypeScript fallback\n');
  });

  it.skipIf(!which('cc') || !make || !python)('builds a loadable addon where a compiler exists, quietly', () => {
    const box = sandbox({});
    try {
      const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: buildEnv({ FERRY_NATIVE_BUILD_DIR: box.copy }) });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      const built = loadNativeRawFs(join(box.copy, 'build', 'Release', 'ferry_native.node'));
      expect(built.kind).toBe('native');
      const fd = built.openRoot(box.copy);
      expect(built.readdir(fd).map((e) => e.name).sort()).toEqual(['binding.gyp', 'build', 'src']);
      built.close(fd);
    } finally {
      box.cleanup();
    }
  });
});
