import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { dropView, holdViews } from '../../../src/transfer/batch/held.js';
import { extractBatch } from '../../../src/transfer/batch/tar-extract.js';
import { batchTarBytes, packBatch, type BatchFile } from '../../../src/transfer/batch/tar-pack.js';
import { BLOCK, END_BYTES, entryBytes, headerBytes, writeHeader } from '../../../src/transfer/batch/ustar.js';
import { parseBatchData } from '../../../src/transfer/wire/session-frames.js';
import { IoPool } from '../../../src/transfer/workers/io-pool.js';
import { removeAll, tempDir } from './session-fixture.js';
import { commitByPath } from './commit-by-path.js';

const pool = new IoPool(1);
afterAll(async () => {
  await pool.close();
});

const NAMES = [
  'plain.txt',
  'dir/with space/-leading dash',
  'ünïcødé/文件.bin',
  `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(60)}`,
  'x'.repeat(300),
];

/** A tar written by this module: headers, data, zero padding, end marker. */
function ourTar(entries: Array<{ name: string; data: Buffer }>): Buffer {
  const out = Buffer.alloc(batchTarBytes(entries.map((e) => ({ entryName: e.name, size: e.data.length }))), 0xaa);
  let at = 0;
  for (const e of entries) {
    const dataAt = writeHeader(out, at, { name: e.name, size: e.data.length, mode: 0o640, mtimeMs: 1_700_000_000_000 });
    e.data.copy(out, dataAt);
    const end = at + entryBytes(e.name, e.data.length);
    out.fill(0, dataAt + e.data.length, end);
    at = end;
  }
  out.fill(0, at);
  return out;
}

async function tarStreamPack(entries: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, size: e.data.length, mode: 0o644 }, e.data);
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

async function tarStreamRead(bytes: Buffer): Promise<Array<{ name: string; type: string; mode: number; data: Buffer }>> {
  const extract = tar.extract();
  extract.end(bytes);
  const out: Array<{ name: string; type: string; mode: number; data: Buffer }> = [];
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) parts.push(c);
    out.push({ name: entry.header.name, type: entry.header.type!, mode: entry.header.mode!, data: Buffer.concat(parts) });
  }
  return out;
}

/** Cut `bytes` into slices of the given sizes (the last one takes the rest). */
function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= bytes.length) break;
    parts.push(bytes.subarray(at, Math.min(at + n, bytes.length)));
    at += n;
  }
  if (at < bytes.length) parts.push(bytes.subarray(at));
  return parts;
}

describe('tar batches without tar-stream', () => {
  const entries = NAMES.map((name, k) => ({ name, data: randomBytes(k * 700 + (k === 0 ? 0 : 13)) }));

  it('writes archives tar-stream reads back: names (unicode, long, spaces), sizes, modes, bytes', async () => {
    const got = await tarStreamRead(ourTar(entries));
    expect(got.map((e) => [e.name, e.type, e.mode])).toEqual(entries.map((e) => [e.name, 'file', 0o640]));
    got.forEach((e, k) => expect(e.data.equals(entries[k]!.data)).toBe(true));
    expect(headerBytes('plain.txt')).toBe(BLOCK);
    expect(headerBytes('ünïcødé/文件.bin')).toBeGreaterThan(BLOCK);
  });

  it('reads tar-stream archives and its own, whatever the slicing, with views where possible', async () => {
    for (const bytes of [await tarStreamPack(entries), ourTar(entries)]) {
      for (const sizes of [[bytes.length], [1, 511, 512, 3], [700, 700, 700, 700, 700], Array(200).fill(97)]) {
        const parts = cut(bytes, sizes as number[]);
        const out = extractBatch(parts, entries.map((e) => ({ name: e.name, size: e.data.length })));
        expect(out.map((o) => o.index)).toEqual(entries.map((_, k) => k));
        out.forEach((o, k) => expect(o.data.equals(entries[k]!.data)).toBe(true));
      }
      // One slice: every entry's bytes are a view into it, not a copy.
      const whole = extractBatch([bytes], entries.map((e) => ({ name: e.name, size: e.data.length })));
      for (const o of whole) if (o.data.length > 0) expect(o.data.buffer).toBe(bytes.buffer);
    }
  });

  it('refuses what was not announced: other names, sizes, counts, types, bad header checksums, truncation', async () => {
    const bytes = ourTar(entries);
    const want = entries.map((e) => ({ name: e.name, size: e.data.length }));
    const refuse = (parts: Buffer[], expected = want): void => {
      expect(() => extractBatch(parts, expected)).toThrow(expect.objectContaining({ code: 'Transfer.PeerProtocol' }));
    };
    refuse([bytes], want.map((w, k) => (k === 2 ? { ...w, name: '../../etc/passwd' } : w)));
    refuse([bytes], want.map((w, k) => (k === 1 ? { ...w, size: w.size + 1 } : w)));
    refuse([bytes], want.slice(0, 3));
    refuse([bytes], [...want, { name: 'more', size: 0 }]);
    const damaged = Buffer.from(bytes);
    damaged[BLOCK + 3] = damaged[BLOCK + 3]! ^ 1;
    // The first entry is empty, so the second header starts at BLOCK: its checksum no longer matches.
    refuse([damaged]);
    refuse([bytes.subarray(0, bytes.length - END_BYTES - 700)]);
    const pack = tar.pack();
    pack.entry({ name: 'plain.txt', type: 'symlink', linkname: '/etc/passwd' });
    pack.finalize();
    const parts: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) parts.push(c);
    refuse([Buffer.concat(parts)], [{ name: 'plain.txt', size: 0 }]);
  });

  it('packs a batch from the files: the worker reads into place; a file that changed size is left out', async () => {
    const dir = await tempDir();
    try {
      await mkdir(join(dir, 's'));
      const files: BatchFile[] = [];
      const contents: Buffer[] = [];
      for (let k = 0; k < 6; k++) {
        const data = randomBytes(k * 1000 + 1);
        contents.push(data);
        const hostPath = join(dir, 's', `f${k}`);
        await writeFile(hostPath, data);
        files.push({ i: k, hostPath, apiPath: `/s/f${k}`, size: data.length, mtimeMs: 1_600_000_000_000, mode: 0o600, entryName: NAMES[k % NAMES.length]! + k });
      }
      // f2 grows after it was announced, f4 vanishes.
      await writeFile(files[2]!.hostPath, Buffer.concat([contents[2]!, Buffer.from('more')]));
      await writeFile(files[4]!.hostPath, '');
      const given: Buffer[] = [];
      const buffers = { bufferBytes: 64 * 1024, get: async () => Buffer.from(new SharedArrayBuffer(64 * 1024)).fill(0x55), put: (b: Buffer) => { given.push(b); } };
      const packed = await packBatch(7, files, { readInto: (list, target) => pool.readInto(list, target, 'sha256'), buffers, frameBytes: 5000, signal: new AbortController().signal });
      expect(packed.failures.map((f) => [f.file.i, f.error.code])).toEqual([[2, 'Transfer.SourceChanged'], [4, 'Transfer.SourceChanged']]);
      const frames = packed.unit!.frames;
      const begin = JSON.parse(frames[0]![0]!.subarray(5).toString()) as { batch: number; files: Array<{ i: number; checksum: string }> };
      const kept = [0, 1, 3, 5];
      expect(begin.files).toEqual(kept.map((k) => ({ i: k, checksum: createHash('sha256').update(contents[k]!).digest('hex') })));
      const data = frames.slice(1, -1).map(([head, body]) => {
        const d = parseBatchData(Buffer.concat([head!.subarray(5), body!]));
        return d.data;
      });
      const extracted = extractBatch(data, kept.map((k) => ({ name: files[k]!.entryName, size: files[k]!.size })));
      extracted.forEach((e, n) => expect(e.data.equals(contents[kept[n]!]!)).toBe(true));
      // What tar-stream sees is the same.
      const read = await tarStreamRead(Buffer.concat(data));
      expect(read.map((r) => r.name)).toEqual(kept.map((k) => files[k]!.entryName));
      packed.unit!.done!();
      expect(given).toHaveLength(1);
    } finally {
      await removeAll(dir);
    }
  });
});

describe('fs worker commit', () => {
  it('creates small files with their mode, keeps a partial of an earlier attempt working, and renames only verified files', async () => {
    const dir = await tempDir();
    try {
      const body = Buffer.from('contents');
      const sum = createHash('sha256').update(body).digest('hex');
      // An earlier attempt left a 0600 partial behind.
      await writeFile(join(dir, '.p-old'), 'stale stale stale');
      const { results, dirError } = await commitByPath(pool, [
        { partial: join(dir, '.p-new'), final: join(dir, 'new'), data: body, mode: 0o755, mtimeMs: null, verify: 'sha256', expected: sum },
        { partial: join(dir, '.p-old'), final: join(dir, 'old'), data: body, mode: 0o644, mtimeMs: 1_234_000, verify: 'sha256', expected: sum },
        { partial: join(dir, '.p-ro'), final: join(dir, 'ro'), data: body, mode: 0o444, mtimeMs: null, verify: null, expected: '' },
        { partial: join(dir, 'missing-dir', '.p'), final: join(dir, 'missing-dir', 'x'), data: body, mode: 0o644, mtimeMs: null, verify: null, expected: '' },
      ], true);
      expect(dirError).toBeNull();
      expect(results.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      // Its directory could not be opened (commitByPath passes no descriptor): a failure of that file only.
      expect(results[3]).toMatchObject({ errno: 'EBADF' });
      const umask = process.umask();
      expect((await stat(join(dir, 'new'))).mode & 0o777).toBe(0o755);
      expect((await stat(join(dir, 'old'))).mode & 0o777).toBe(0o644);
      expect((await stat(join(dir, 'old'))).mtimeMs).toBe(1_234_000);
      expect((await stat(join(dir, 'ro'))).mode & 0o777).toBe(0o444 & ~umask);
      expect((await readdir(dir)).sort()).toEqual(['new', 'old', 'ro']);
    } finally {
      await removeAll(dir);
    }
  });
});

describe('held frame buffers', () => {
  it('gives a batch frame back only once every view was dropped', () => {
    let released = 0;
    const views = [Buffer.alloc(3), Buffer.alloc(4)];
    holdViews(views, () => { released += 1; });
    dropView(views[0]);
    dropView(views[0]);
    dropView(Buffer.alloc(1));
    expect(released).toBe(0);
    dropView(views[1]);
    expect(released).toBe(1);
    holdViews([], () => { released += 1; });
    expect(released).toBe(2);
  });
});
