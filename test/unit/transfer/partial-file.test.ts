import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { injectFaults } from '../../../src/fs/faults.js';
import { PartialFile } from '../../../src/transfer/chunks/partial-file.js';

/** Partial files: created exclusively and never through a link; write errors never lost. */
describe('PartialFile', () => {
  const temps: string[] = [];
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-partial-'));
    temps.push(d);
    return d;
  };
  afterEach(() => {
    injectFaults(null);
    for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const partial = (path: string, options: ConstructorParameters<typeof PartialFile>[3] = {}): PartialFile =>
    new PartialFile(path, new Set<string>(), (op) => op, { flushBytes: 0, ...options });

  it('replaces a symlink or hard link planted at its name instead of writing through it', async () => {
    const dir = temp();
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'a'), 'original-a');
    writeFileSync(join(outside, 'b'), 'original-b');
    const linked = join(dir, '.ferry-part.x.a');
    symlinkSync(join(outside, 'a'), linked);
    const hard = join(dir, '.ferry-part.x.b');
    linkSync(join(outside, 'b'), hard);
    for (const [path, resume] of [[linked, false], [hard, true]] as const) {
      const p = partial(path, { resume });
      await p.writev([Buffer.from('new bytes')], 0);
      await p.close();
      expect(lstatSync(path).isFile()).toBe(true);
      expect(lstatSync(path).nlink).toBe(1);
      expect(readFileSync(path, 'utf8')).toBe('new bytes');
    }
    expect(readFileSync(join(outside, 'a'), 'utf8')).toBe('original-a');
    expect(readFileSync(join(outside, 'b'), 'utf8')).toBe('original-b');
  });

  it('keeps a regular partial on resume, and creates its file 0600', async () => {
    const dir = temp();
    const path = join(dir, '.ferry-part.x.kept');
    writeFileSync(path, 'abcdef');
    const p = partial(path, { resume: true });
    await p.writev([Buffer.from('XY')], 2);
    await p.close();
    expect(readFileSync(path, 'utf8')).toBe('abXYef');
    const fresh = partial(join(dir, '.ferry-part.x.fresh'));
    await fresh.touch();
    await fresh.close();
    expect(lstatSync(join(dir, '.ferry-part.x.fresh')).mode & 0o777).toBe(0o600);
  });

  it('fails the file on an fdatasync error: the ranges are never reported durable, checkpoint and close throw', async () => {
    const dir = temp();
    const path = join(dir, '.ferry-part.x.sync');
    const durable: Array<[number, number]> = [];
    const p = partial(path, { durable: true, onDurable: (r) => durable.push(...r) });
    await p.writev([Buffer.alloc(4096, 1)], 0);
    await p.checkpoint();
    expect(durable).toEqual([[0, 4096]]);
    injectFaults({ call: 'fdatasync', errno: 'EIO', times: 1 });
    await p.writev([Buffer.alloc(4096, 2)], 4096);
    await expect(p.checkpoint()).rejects.toMatchObject({ code: 'EIO' });
    // Linux would now report success to the next fdatasync: the file stays failed anyway.
    await p.writev([Buffer.alloc(10, 3)], 8192).catch(() => undefined);
    await expect(p.checkpoint()).rejects.toMatchObject({ code: 'EIO' });
    await expect(p.close()).rejects.toMatchObject({ code: 'EIO' });
    expect(durable).toEqual([[0, 4096]]);
  });

  it('keeps a failure of a background flush (flush-as-you-go) for close to report', async () => {
    const dir = temp();
    const path = join(dir, '.ferry-part.x.bg');
    const durable: Array<[number, number]> = [];
    injectFaults({ call: 'fdatasync', errno: 'EIO', times: 1 });
    const p = partial(path, { durable: true, flushBytes: 4096, onDurable: (r) => durable.push(...r) });
    await p.writev([Buffer.alloc(8192, 1)], 0);
    await expect(p.close()).rejects.toMatchObject({ code: 'EIO' });
    expect(durable).toEqual([]);
    // Started over, the file is healthy again.
    const again = partial(path, { durable: true, onDurable: (r) => durable.push(...r) });
    await again.writev([Buffer.alloc(10, 1)], 0);
    await again.checkpoint();
    await again.close();
    expect(durable).toEqual([[0, 10]]);
    expect(existsSync(path)).toBe(true);
  });
});
