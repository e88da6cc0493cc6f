import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparable, ok, rejection, runPair, snapshot } from './session-fixture.js';
import { dst, src } from './temp-roots.js';


const T0 = 1_700_000_000;

/**
 * Source files and destination states chosen so each level copies some and skips others:
 *   missing      - not at the destination
 *   sameSize     - same size, different content, destination newer
 *   otherSize    - different size, destination newer
 *   olderDst     - same size, different content, destination older than source
 *   identical    - same content, destination newer
 */
async function prepare(): Promise<void> {
  await mkdir(join(src, 's'));
  await mkdir(join(dst, 'd'));
  const files: Record<string, [string, string | null, number]> = {
    missing: ['source data 1', null, T0 + 100],
    sameSize: ['AAAAAAAAAA', 'BBBBBBBBBB', T0 + 200],
    otherSize: ['short', 'much longer text', T0 + 200],
    olderDst: ['XXXXXXXXXX', 'YYYYYYYYYY', T0 - 100],
    identical: ['same bytes here', 'same bytes here', T0 + 200],
  };
  for (const [name, [s, d, dstTime]] of Object.entries(files)) {
    await writeFile(join(src, 's', name), s);
    await utimes(join(src, 's', name), T0, T0);
    if (d !== null) {
      await writeFile(join(dst, 'd', name), d);
      await utimes(join(dst, 'd', name), dstTime, dstTime);
    }
  }
}

async function copied(): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dst, 'd'))).sort()) {
    if ((await readFile(join(dst, 'd', name), 'utf8')) === (await readFile(join(src, 's', name), 'utf8'))) out.push(name);
  }
  return out;
}

describe('transfer session: sync levels', () => {
  const cases: Array<[0 | 1 | 2 | 3 | null, string[], number]> = [
    // level, files whose destination then equals the source, files transferred
    [null, ['identical', 'missing', 'olderDst', 'otherSize', 'sameSize'], 5],
    [0, ['identical', 'missing'], 1],
    [1, ['identical', 'missing', 'otherSize'], 2],
    [2, ['identical', 'missing', 'olderDst'], 2],
    [3, ['identical', 'missing', 'olderDst', 'otherSize', 'sameSize'], 4],
  ];
  for (const [level, equal, transferred] of cases) {
    it(`sync_level ${String(level)} copies exactly what it should`, async () => {
      await prepare();
      const r = await runPair({
        srcRoot: src, dstRoot: dst,
        items: [{ sourcePath: '/s', destinationPath: '/d', recursive: true }],
        options: { syncLevel: level },
      });
      const stats = ok(r.dst);
      expect(await copied()).toEqual(equal);
      expect(stats).toMatchObject({ files: 5, filesTransferred: transferred, filesSkipped: 5 - transferred });
      expect(r.dstRep.files).toHaveLength(transferred);
      // Level 3 reads the destination's candidates (same size): sameSize, olderDst, identical.
      if (level === 3) expect(stats.bytesChecksummed).toBe(10 + 10 + 15);
    });
  }

  it('sync_level 3 works with md5 and xxh128 and a big file hashed off-thread', async () => {
    await mkdir(join(src, 's'));
    await mkdir(join(dst, 'd'));
    const big = randomBytes(2 * 1024 * 1024);
    await writeFile(join(src, 's/big'), big);
    await writeFile(join(dst, 'd/big'), big);
    const changed = Buffer.from(big);
    changed[12345] = changed[12345]! ^ 1;
    await writeFile(join(src, 's/changed'), big);
    await writeFile(join(dst, 'd/changed'), changed);
    for (const checksumAlgorithm of ['md5', 'xxh128'] as const) {
      const r = await runPair({
        srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/s', destinationPath: '/d', recursive: true }],
        options: { syncLevel: 3, checksumAlgorithm }, tuning: { offThreadHashBytes: 1024 * 1024 },
      });
      expect(ok(r.dst)).toMatchObject({ filesSkipped: 1, filesTransferred: 1 });
      expect((await readFile(join(dst, 'd/changed'))).equals(big)).toBe(true);
      await writeFile(join(dst, 'd/changed'), changed);
    }
  });
});

describe('transfer session: delete_destination_extra', () => {
  it('removes destination entries missing on the source or of another type, and nothing else', async () => {
    await mkdir(join(src, 's/sub/deep'), { recursive: true });
    await writeFile(join(src, 's/keep'), 'k');
    await writeFile(join(src, 's/sub/deep/f'), 'f');
    await writeFile(join(src, 's/was-dir'), 'now a file');
    await mkdir(join(src, 's/was-file'));
    await writeFile(join(src, 's/was-file/inner'), 'i');
    await mkdir(join(dst, 'd/sub/deep/extra-dir/x'), { recursive: true });
    await writeFile(join(dst, 'd/extra'), 'gone');
    await writeFile(join(dst, 'd/sub/deep/extra-file'), 'gone');
    await symlink('/etc', join(dst, 'd/sub/extra-link'));
    await mkdir(join(dst, 'd/was-dir/nested'), { recursive: true });
    await writeFile(join(dst, 'd/was-dir/nested/z'), 'z');
    await writeFile(join(dst, 'd/was-file'), 'old file');
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/s', destinationPath: '/d', recursive: true }],
      options: { deleteDestinationExtra: true },
    });
    ok(r.dst);
    expect([...(await snapshot(join(dst, 'd'))).keys()]).toEqual([...(await snapshot(join(src, 's'))).keys()]);
    expect(comparable(await snapshot(join(dst, 'd')))).toEqual(comparable(await snapshot(join(src, 's'))));
  });

  it('without delete_destination_extra keeps extras and refuses a directory where a file must go', async () => {
    await mkdir(join(src, 's'));
    await writeFile(join(src, 's/x'), 'file');
    await mkdir(join(dst, 'd/x'), { recursive: true });
    await writeFile(join(dst, 'd/extra'), 'stays');
    const r = await runPair({ srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/s', destinationPath: '/d', recursive: true }] });
    const err = rejection(r.dst);
    expect(err.code).toBe('Transfer.WrongType');
    expect(err.details?.['eventCode']).toBe('IS_A_DIRECTORY');
    expect(rejection(r.src).code).toBe('Transfer.WrongType');
    expect(await readFile(join(dst, 'd/extra'), 'utf8')).toBe('stays');
  });

  it('never puts a file in the place of a root directory', async () => {
    await mkdir(join(src, 's'));
    await writeFile(join(src, 's/x'), 'file');
    await writeFile(join(dst, 'kept'), 'stays');
    const r = await runPair({ srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/s/x', destinationPath: '/', recursive: false }] });
    const err = rejection(r.dst);
    expect(err.code).toBe('Transfer.WrongType');
    expect(err.details?.['eventCode']).toBe('IS_A_DIRECTORY');
    expect(await readFile(join(dst, 'kept'), 'utf8')).toBe('stays');
  });
});
