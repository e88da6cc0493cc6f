import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionFrameType } from '../../../src/protocol/data-frames.js';
import { comparable, ok, runPair, snapshot } from './session-fixture.js';
import { dst, src } from './temp-roots.js';


const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('transfer session: placement and content', () => {
  it('copies a single file to the destination path, creating missing parents, keeping mode and (with preserve_timestamp) mtime', async () => {
    const data = randomBytes(100_000);
    await writeFile(join(src, 'one.bin'), data);
    await chmod(join(src, 'one.bin'), 0o640);
    await utimes(join(src, 'one.bin'), 1_600_000_000, 1_600_000_000.25);
    const r = await runPair({
      srcRoot: src, dstRoot: dst,
      items: [{ sourcePath: '/one.bin', destinationPath: '/new/parent/copy.bin', recursive: null }],
      options: { preserveTimestamp: true },
    });
    const stats = ok(r.dst);
    expect(ok(r.src)).toEqual(stats);
    expect((await readFile(join(dst, 'new/parent/copy.bin'))).equals(data)).toBe(true);
    const st = await stat(join(dst, 'new/parent/copy.bin'));
    expect(st.mode & 0o777).toBe(0o640);
    expect(Math.round(st.mtimeMs)).toBe(1_600_000_000_250);
    expect(stats).toMatchObject({ files: 1, filesTransferred: 1, bytesTransferred: 100_000, bytesExpected: 100_000, filesSkipped: 0, faults: 0 });
    expect(r.dstRep.files).toEqual([{ sourcePath: '/one.bin', destinationPath: '/new/parent/copy.bin', size: 100_000, checksum: sha256(data), checksumAlgorithm: 'sha256' }]);
    expect(r.dstRep.progressed.at(-1)).toEqual(stats);
    expect(await readdir(join(dst, 'new/parent'))).toEqual(['copy.bin']);
  });

  it('copies a tree with empty directories, zero-byte files and odd names; symlinks are counted, not followed', async () => {
    const names = ['with space.txt', 'ünïcödé-名前.dat', '-leading-dash', '--', 'tab\there', "quote'\"s", '.hidden'];
    await mkdir(join(src, 'tree/empty/deeper-empty'), { recursive: true });
    await mkdir(join(src, 'tree/a b/c'), { recursive: true });
    for (const [k, n] of names.entries()) await writeFile(join(src, 'tree', n), randomBytes(k * 1000));
    await writeFile(join(src, 'tree/a b/c/zero'), '');
    await writeFile(join(src, 'tree/a b/zero too'), '');
    await writeFile(join(src, 'tree/a b/c/data'), randomBytes(5000));
    await symlink('/etc/passwd', join(src, 'tree/link-out'));
    await symlink('a b', join(src, 'tree/link-dir'));
    const r = await runPair({ srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/tree', destinationPath: '/copy', recursive: true }] });
    const stats = ok(r.dst);
    const want = comparable(await snapshot(join(src, 'tree')));
    expect(comparable(await snapshot(join(dst, 'copy')))).toEqual(want);
    expect([...(await snapshot(join(dst, 'copy'))).values()].some((e) => e.type === 'symlink')).toBe(false);
    expect(stats).toMatchObject({ files: names.length + 3, directories: 5, symlinks: 2, filesTransferred: names.length + 3 });
    expect(r.dstRep.files.map((f) => f.destinationPath).sort()).toEqual(
      [...names.map((n) => `/copy/${n}`), '/copy/a b/c/zero', '/copy/a b/zero too', '/copy/a b/c/data'].sort(),
    );
  });

  it('puts a source directory\'s contents inside an existing destination directory', async () => {
    await mkdir(join(src, 'd/sub'), { recursive: true });
    await writeFile(join(src, 'd/sub/f'), 'hello');
    await mkdir(join(dst, 'target'));
    await writeFile(join(dst, 'target/keep'), 'mine');
    const r = await runPair({ srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/d/', destinationPath: '/target/', recursive: null }] });
    ok(r.dst);
    expect((await readdir(join(dst, 'target'))).sort()).toEqual(['keep', 'sub']);
    expect(await readFile(join(dst, 'target/sub/f'), 'utf8')).toBe('hello');
  });

  for (const algorithm of ['sha256', 'md5', 'xxh128'] as const) {
    it(`sends a file bigger than the chunk size and not a multiple of it over several streams (${algorithm})`, async () => {
      const data = randomBytes(3 * 1024 * 1024 + 12_345);
      await writeFile(join(src, 'big'), data);
      const types = new Map<number, number>();
      const r = await runPair({
        srcRoot: src, dstRoot: dst,
        items: [{ sourcePath: '/big', destinationPath: '/big', recursive: false }],
        options: { parallelism: 3, checksumAlgorithm: algorithm },
        // Small chunks; a low off-thread threshold sends this file's hash to the worker pool.
        tuning: { chunkSize: 64 * 1024, offThreadHashBytes: 1024 * 1024 },
        sniff: (t) => types.set(t, (types.get(t) ?? 0) + 1),
      });
      ok(r.dst);
      expect((await readFile(join(dst, 'big'))).equals(data)).toBe(true);
      expect(types.get(SessionFrameType.CHUNK)).toBe(Math.ceil(data.length / (64 * 1024)));
      const expected = algorithm === 'xxh128' ? r.dstRep.files[0]!.checksum : createHash(algorithm).update(data).digest('hex');
      expect(r.dstRep.files[0]).toMatchObject({ checksum: expected, checksumAlgorithm: algorithm, size: data.length });
      expect(expected).toMatch(/^[0-9a-f]{32,64}$/);
    });
  }

  it('packs many small files into tar batches', async () => {
    await mkdir(join(src, 'many'));
    for (let k = 0; k < 300; k++) await writeFile(join(src, 'many', `f${k}`), randomBytes(k * 7));
    const types = new Map<number, number>();
    const r = await runPair({
      srcRoot: src, dstRoot: dst,
      items: [{ sourcePath: '/many', destinationPath: '/many', recursive: true }],
      tuning: { batchMaxFiles: 64, manifestBatch: 50, manifestWindow: 120 },
      sniff: (t) => types.set(t, (types.get(t) ?? 0) + 1),
    });
    const stats = ok(r.dst);
    expect(comparable(await snapshot(join(dst, 'many')))).toEqual(comparable(await snapshot(join(src, 'many'))));
    expect(stats.filesTransferred).toBe(300);
    expect(types.get(SessionFrameType.CHUNK) ?? 0).toBe(0);
    expect(types.get(SessionFrameType.BATCH_BEGIN)).toBeGreaterThanOrEqual(5);
    expect(types.get(SessionFrameType.BATCH_END)).toBe(types.get(SessionFrameType.BATCH_BEGIN));
  });
});
