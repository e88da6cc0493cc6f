import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryFinisher } from '../../../src/transfer/session/dest-dirs.js';

describe('DirectoryFinisher', () => {
  const dirs: string[] = [];
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-dirs-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

  it('applies modes and mtimes deepest first', async () => {
    const base = temp();
    mkdirSync(join(base, 'a', 'b'), { recursive: true });
    const f = new DirectoryFinisher(true);
    f.note(join(base, 'a'), '/~/a', 0o40555, 1_600_000_000_000, null, statSync(join(base, 'a'), { bigint: true }));
    f.note(join(base, 'a', 'b'), '/~/a/b', 0o40750, 1_500_000_000_000, null, statSync(join(base, 'a', 'b'), { bigint: true }));
    await f.finish(new AbortController().signal);
    expect(statSync(join(base, 'a')).mode & 0o7777).toBe(0o555);
    expect(statSync(join(base, 'a', 'b')).mode & 0o7777).toBe(0o750);
    expect(statSync(join(base, 'a', 'b')).mtimeMs).toBe(1_500_000_000_000);
    expect(statSync(join(base, 'a')).mtimeMs).toBe(1_600_000_000_000);
  });

  it('leaves alone what a directory was swapped for with a symlink meanwhile', async () => {
    const base = temp();
    const victim = join(base, 'victim');
    mkdirSync(victim, { mode: 0o700 });
    const before = statSync(victim);
    mkdirSync(join(base, 'placed'));
    const f = new DirectoryFinisher(true);
    f.note(join(base, 'placed'), '/~/placed', 0o40777, 1_000_000_000_000, null, statSync(join(base, 'placed'), { bigint: true }));
    // Between placing and finishing, someone replaces the directory with a link.
    rmSync(join(base, 'placed'), { recursive: true });
    symlinkSync(victim, join(base, 'placed'));
    await f.finish(new AbortController().signal);
    const after = statSync(victim);
    expect(after.mode & 0o7777).toBe(0o700);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('leaves alone a directory swapped for another directory (a parent replaced by a link to a look-alike tree)', async () => {
    const base = temp();
    mkdirSync(join(base, 'real', 'placed'), { recursive: true });
    mkdirSync(join(base, 'other', 'placed'), { recursive: true, mode: 0o700 });
    const placed = join(base, 'real', 'placed');
    const f = new DirectoryFinisher(true);
    f.note(placed, '/~/real/placed', 0o40777, 1_000_000_000_000, null, statSync(placed, { bigint: true }));
    const victim = join(base, 'other', 'placed');
    const before = statSync(victim);
    // The parent becomes a link to another tree holding a directory of the same name.
    rmSync(join(base, 'real'), { recursive: true });
    symlinkSync(join(base, 'other'), join(base, 'real'));
    await f.finish(new AbortController().signal);
    const after = statSync(victim);
    expect(after.mode & 0o7777).toBe(before.mode & 0o7777);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });
});
