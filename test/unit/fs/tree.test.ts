import { execFileSync } from 'node:child_process';
import { constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Dir, RootDirs, openRef, removeTree, walkDirs } from '../../../src/fs/index.js';

/** The descriptor-relative layer above RawFs: roots pinned by identity, walks, tree removal. */
describe('roots, walks and tree removal', () => {
  const temps: string[] = [];
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-tree-'));
    temps.push(d);
    return d;
  };
  afterEach(() => { for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true }); });

  it('refuses a root replaced by a link after it was pinned, and finds nested roots by identity', () => {
    const base = temp();
    mkdirSync(join(base, 'data', 'archive'), { recursive: true });
    mkdirSync(join(base, 'elsewhere'));
    symlinkSync(join(base, 'data', 'archive'), join(base, 'alias'));
    const roots = new RootDirs([{ path: join(base, 'data'), writable: true }, { path: join(base, 'alias'), writable: false }]);
    const root = roots.open(0);
    const archive = walkDirs(root, ['archive']);
    // Reached through the writable root, the directory is still the read-only root's.
    expect(roots.rootAt(archive)).toBe(1);
    archive.close();
    root.close();
    renameSync(join(base, 'data'), join(base, 'data.old'));
    symlinkSync(join(base, 'elsewhere'), join(base, 'data'));
    expect(() => roots.open(0)).toThrow(expect.objectContaining({ code: 'ESTALE' }));
  });

  it('walks without following links, and creates missing directories when asked', () => {
    const base = temp();
    mkdirSync(join(base, 'root', 'a'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    symlinkSync(join(base, 'outside'), join(base, 'root', 'a', 'link'));
    const roots = new RootDirs([{ path: join(base, 'root'), writable: true }]);
    const root = roots.open(0);
    try {
      expect(() => walkDirs(root, ['a', 'link'])).toThrow(expect.objectContaining({ code: 'ELOOP' }));
      expect(() => walkDirs(root, ['a', 'link', 'x'], { createMode: 0o755 })).toThrow(expect.objectContaining({ code: 'ELOOP' }));
      expect(existsSync(join(base, 'outside', 'x'))).toBe(false);
      const made = walkDirs(root, ['a', 'b', 'c'], { createMode: 0o755 });
      made.close();
      expect(existsSync(join(base, 'root', 'a', 'b', 'c'))).toBe(true);
    } finally {
      root.close();
    }
  });

  it('removes a tree whose sub-directories are swapped for links mid-way, without touching their targets', async () => {
    const base = temp();
    const outside = join(base, 'outside');
    mkdirSync(outside);
    for (let k = 0; k < 20; k++) writeFileSync(join(outside, `keep${k}`), 'secret');
    const tree = join(base, 'root', 'tree');
    for (let d = 0; d < 10; d++) {
      mkdirSync(join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < 5; f++) writeFileSync(join(tree, `d${d}`, `f${f}`), 'x');
    }
    const roots = new RootDirs([{ path: join(base, 'root'), writable: true }]);
    const root = roots.open(0);
    let swapped = 0;
    try {
      const st = root.stat('tree');
      await removeTree(root, 'tree', st, {
        // Runs as each directory is entered: swap every sibling not yet entered for a link out.
        refuse: () => {
          for (let d = 0; d < 10; d++) {
            const p = join(tree, `d${d}`);
            try {
              renameSync(p, `${p}.gone`);
              symlinkSync(outside, p);
              swapped++;
            } catch {
              // Already entered and removed, or already swapped.
            }
          }
        },
      });
    } finally {
      root.close();
    }
    expect(swapped).toBeGreaterThan(0);
    for (let k = 0; k < 20; k++) expect(readFileSync(join(outside, `keep${k}`), 'utf8')).toBe('secret');
    expect(existsSync(tree)).toBe(false);
  });

  it('stops at a directory the caller refuses (a root inside), leaving it whole', async () => {
    const base = temp();
    mkdirSync(join(base, 'root', 'tree', 'nested'), { recursive: true });
    writeFileSync(join(base, 'root', 'tree', 'nested', 'kept'), 'k');
    const roots = new RootDirs([{ path: join(base, 'root'), writable: true }, { path: join(base, 'root', 'tree', 'nested'), writable: false }]);
    const root = roots.open(0);
    try {
      await expect(removeTree(root, 'tree', root.stat('tree'), {
        refuse: (d) => { if (roots.rootAt(d) >= 0) throw Object.assign(new Error('root inside'), { code: 'EPERM' }); },
      })).rejects.toThrow('root inside');
    } finally {
      root.close();
    }
    expect(readFileSync(join(base, 'root', 'tree', 'nested', 'kept'), 'utf8')).toBe('k');
  });
});

describe('hostile file types and depths', () => {
  const temps: string[] = [];
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-hostile-'));
    temps.push(d);
    return d;
  };
  afterEach(() => { for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true }); });

  it('refuses a FIFO where a file was expected, without blocking in open', () => {
    const base = temp();
    execFileSync('mkfifo', [join(base, 'pipe')]);
    const roots = new RootDirs([{ path: base, writable: true }]);
    const root = roots.open(0);
    try {
      expect(() => openRef({ dirFd: root.fd, name: 'pipe' }, constants.O_RDONLY)).toThrow(expect.objectContaining({ code: 'ESTALE' }));
      expect(() => openRef(join(base, 'pipe'), constants.O_RDONLY)).toThrow(expect.objectContaining({ code: 'ESTALE' }));
    } finally {
      root.close();
    }
  });

  it('refuses a tree deeper than it removes at once, leaking no descriptor', async () => {
    const base = temp();
    let p = join(base, 'deep');
    for (let k = 0; k < 600; k++) p = join(p, 'd');
    mkdirSync(p, { recursive: true });
    const roots = new RootDirs([{ path: base, writable: true }]);
    const root = roots.open(0);
    const before = readdirSync('/proc/self/fd').length;
    try {
      await expect(removeTree(root, 'deep', root.stat('deep'))).rejects.toMatchObject({ code: 'ELOOP' });
    } finally {
      root.close();
    }
    expect(readdirSync('/proc/self/fd').length).toBe(before - 1);
  });
});

describe('identities', () => {
  it('tells apart inode numbers that a double would merge (64-bit inodes, as Lustre hands out)', () => {
    const big = 2n ** 57n;
    // As numbers both are 144115188075855870: the check must not be done in doubles.
    expect(Number(big) === Number(big + 1n)).toBe(true);
    const dir = new Dir(-1, 7n, big);
    expect(dir.sameAs({ dev: 7n, ino: big + 1n })).toBe(false);
    expect(dir.sameAs({ dev: 7n, ino: big })).toBe(true);
  });
});
