import { createHash, randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createInlineHash, hashBuffer } from '../../../src/transfer/checksum/hash.js';
import { IoPool } from '../../../src/transfer/workers/io-pool.js';
import { decide } from '../../../src/transfer/session/decide.js';
import { checkRelPath, partialName } from '../../../src/transfer/session/paths.js';
import { resolveTuning } from '../../../src/transfer/tuning.js';
import { RangeSet } from '../../../src/transfer/util/range-set.js';
import { parseChunk, encodeChunkHead } from '../../../src/transfer/wire/session-frames.js';
import { removeAll, tempDir } from './session-fixture.js';
import { commitByPath } from './commit-by-path.js';

const pool = new IoPool(2);
afterAll(async () => {
  await pool.close();
});

describe('checksums: one interface, three algorithms, two places to run', () => {
  const data = randomBytes(3 * 1024 * 1024 + 5);
  for (const algorithm of ['sha256', 'md5', 'xxh128'] as const) {
    it(`${algorithm}: streaming inline, on a worker and from a file all agree`, async () => {
      const inline = await createInlineHash(algorithm);
      const worker = pool.createHash(algorithm);
      for (let o = 0; o < data.length; o += 700_001) {
        inline.update(data.subarray(o, o + 700_001));
        worker.update(data.subarray(o, o + 700_001));
      }
      const a = await inline.digest();
      expect(await worker.digest()).toBe(a);
      expect(await hashBuffer(algorithm, data)).toBe(a);
      const dir = await tempDir();
      try {
        await writeFile(join(dir, 'f'), data);
        expect(await pool.hashFile(join(dir, 'f'), algorithm)).toEqual({ checksum: a, bytes: data.length });
      } finally {
        await removeAll(dir);
      }
      if (algorithm !== 'xxh128') expect(a).toBe(createHash(algorithm).update(data).digest('hex'));
      else expect(a).toMatch(/^[0-9a-f]{32}$/);
    });
  }

  it('xxh128 matches the reference test vector', async () => {
    // XXH3_128bits("") == 99aa06d3014798d86001c324468d497f (xxHash reference).
    expect(await hashBuffer('xxh128', Buffer.alloc(0))).toBe('99aa06d3014798d86001c324468d497f');
  });

  it('a worker reports a missing file as an error, not a crash', async () => {
    await expect(pool.hashFile('/nonexistent/ferry/file', 'sha256')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fs worker: batched lstat, reading small files with their checksums, and commits', async () => {
    const dir = await tempDir();
    try {
      await writeFile(join(dir, 'a'), 'alpha');
      await writeFile(join(dir, 'b'), 'bravo!');
      const stats = await pool.lstatMany([join(dir, 'a'), dir, join(dir, 'missing')]);
      expect(stats.map((s) => s.kind ?? s.errno)).toEqual(['file', 'dir', 'ENOENT']);
      const read = await pool.readFiles([{ path: join(dir, 'a'), size: 5 }, { path: join(dir, 'b'), size: 5 }, { path: join(dir, 'c'), size: 1 }], 'md5');
      expect(read[0]!.data!.toString()).toBe('alpha');
      expect(read[0]!.checksum).toBe(createHash('md5').update('alpha').digest('hex'));
      expect(read[1]).toMatchObject({ data: null, errno: 'ECHANGED' });
      expect(read[2]).toMatchObject({ data: null, errno: 'ENOENT' });
      const sum = createHash('sha256').update('payload').digest('hex');
      const { results } = await commitByPath(pool, [
        { partial: join(dir, '.p1'), final: join(dir, 'one'), data: Buffer.from('payload'), mode: 0o640, mtimeMs: 1_000_000, verify: 'sha256', expected: sum },
        { partial: join(dir, '.p2'), final: join(dir, 'two'), data: Buffer.from('payload'), mode: 0o640, mtimeMs: null, verify: 'sha256', expected: 'f'.repeat(64) },
      ], true);
      expect(results[0]).toEqual({ ok: true });
      expect(results[1]).toEqual({ mismatch: sum });
      const st = await stat(join(dir, 'one'));
      expect([st.mode & 0o777, st.mtimeMs]).toEqual([0o640, 1_000_000]);
      expect((await readdir(dir)).sort()).toEqual(['.p2', 'a', 'b', 'one']);
    } finally {
      await removeAll(dir);
    }
  });
});

describe('range set', () => {
  it('adds, merges, removes and covers', () => {
    const r = new RangeSet();
    r.add(0, 100);
    r.remove(10, 20);
    r.remove(50, 60);
    expect(r.intervals).toEqual([[0, 10], [20, 50], [60, 100]]);
    expect(r.covers(20, 50)).toBe(true);
    expect(r.covers(15, 25)).toBe(false);
    r.add(10, 20);
    expect(r.intervals).toEqual([[0, 50], [60, 100]]);
    r.add(40, 70);
    expect(r.intervals).toEqual([[0, 100]]);
    r.remove(0, 100);
    expect(r.isEmpty).toBe(true);
    r.add(5, 5);
    expect(r.isEmpty).toBe(true);
  });
});

describe('sync decision', () => {
  const st = (size: number, mtimeMs: number): Stats => ({ size, mtimeMs }) as Stats;
  it('follows the Globus levels', () => {
    const src = { size: 10, mtimeMs: 2000.7 };
    expect(decide(null, src, st(10, 2000))).toBe('copy');
    expect(decide(0, src, null)).toBe('copy');
    expect(decide(0, src, st(1, 0))).toBe('skip');
    expect(decide(1, src, st(10, 0))).toBe('skip');
    expect(decide(1, src, st(11, 0))).toBe('copy');
    expect(decide(2, src, st(10, 2000.2))).toBe('skip');
    expect(decide(2, src, st(10, 1999))).toBe('copy');
    expect(decide(3, src, st(11, 0))).toBe('copy');
    expect(decide(3, src, st(10, 0))).toBe('checksum');
  });
});

describe('paths and frames', () => {
  it('refuses unsafe manifest paths', () => {
    for (const bad of ['..', 'a/../b', '/abs', 'a//b', 'a/', './a', 'nul\0x', 'x'.repeat(256)]) {
      expect(() => checkRelPath(bad), bad).toThrow(/peer protocol error/);
    }
    for (const good of ['', 'a', 'a b/-c/ünï', '...', '.hidden/x']) checkRelPath(good);
  });

  it('names partial files hidden, next to the target, within NAME_MAX', () => {
    const id = '0123456789abcdef-rest';
    expect(partialName(id, 'file.txt', 'r4nd')).toBe('.ferry-part.01234567.r4nd.file.txt');
    // Unpredictable by default: two names for the same file differ.
    const a = partialName(id, 'file.txt');
    expect(a).toMatch(/^\.ferry-part\.01234567\.[0-9a-f]{12}\.file\.txt$/);
    expect(partialName(id, 'file.txt')).not.toBe(a);
    // The random parts come from a pool refilled every 682 names: across refills they stay
    // 12 hex digits and none repeats.
    const parts = Array.from({ length: 3000 }, () => partialName(id, 'f').split('.')[3]!);
    for (const p of parts) expect(p).toMatch(/^[0-9a-f]{12}$/);
    expect(new Set(parts).size).toBe(parts.length);
    const long = partialName(id, 'é'.repeat(127));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);
    expect(long.startsWith('.ferry-part.01234567.')).toBe(true);
  });

  it('round-trips chunk headers with 53-bit offsets', () => {
    const data = Buffer.from('xyz');
    const head = encodeChunkHead(7, 2 ** 40 + 3, 0xdeadbeef, data.length);
    const parsed = parseChunk(Buffer.concat([head.subarray(5), data]));
    expect(parsed).toMatchObject({ fileIndex: 7, offset: 2 ** 40 + 3, crc: 0xdeadbeef });
    expect(parsed.data.toString()).toBe('xyz');
  });

  it('validates tuning', () => {
    expect(() => resolveTuning({ chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() => resolveTuning({ chunkSize: 64 * 1024 * 1024 })).toThrow(/frame limit/);
    expect(resolveTuning({ chunkSize: 1024 }).chunkSize).toBe(1024);
  });
});
