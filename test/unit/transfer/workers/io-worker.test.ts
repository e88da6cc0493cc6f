import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createXXHash128 } from 'hash-wasm';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChecksumAlgorithm } from '../../../../src/protocol/session.js';
import { IoPool, ioWorkerUrl } from '../../../../src/transfer/workers/io-pool.js';
import { commitByPath } from '../commit-by-path.js';
import { statSync } from 'node:fs';

const identityOf = (p: string): { dev: bigint; ino: bigint } => { const st = statSync(p, { bigint: true }); return { dev: st.dev, ino: st.ino }; };

/** Every op of io-worker.ts, round-tripped through a real worker thread (started from dist/). */

const pool = new IoPool(1);
afterAll(async () => {
  await pool.close();
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-io-worker-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function digest(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  if (algorithm === 'xxh128') {
    const h = await createXXHash128();
    h.init();
    h.update(data);
    return h.digest('hex');
  }
  return createHash(algorithm).update(data).digest('hex');
}

const ALGORITHMS: ChecksumAlgorithm[] = ['sha256', 'md5', 'xxh128'];

describe('where the worker is loaded from', () => {
  it('is next to a compiled pool, under dist/ for the sources, and an InternalError when not built', async () => {
    expect(ioWorkerUrl('file:///opt/ferry/dist/transfer/workers/io-pool.js').href).toBe('file:///opt/ferry/dist/transfer/workers/io-worker.js');
    const fromSrc = ioWorkerUrl();
    expect(fromSrc.pathname.endsWith('/dist/transfer/workers/io-worker.js')).toBe(true);
    await writeFile(join(dir, 'package.json'), '{}');
    await mkdir(join(dir, 'src', 'transfer', 'workers'), { recursive: true });
    const pretend = pathToFileURL(join(dir, 'src', 'transfer', 'workers', 'io-pool.ts')).href;
    expect(() => ioWorkerUrl(pretend)).toThrow(expect.objectContaining({ code: 'InternalError', message: 'the I/O worker is not built: run npm run build' }));
    await mkdir(join(dir, 'dist', 'transfer', 'workers'), { recursive: true });
    await writeFile(join(dir, 'dist', 'transfer', 'workers', 'io-worker.js'), '');
    expect(ioWorkerUrl(pretend).href).toBe(pathToFileURL(join(dir, 'dist', 'transfer', 'workers', 'io-worker.js')).href);
  });
});

describe('lstat', () => {
  it('reports kind, size, mtime and mode, and ENOENT without an exception', async () => {
    await writeFile(join(dir, 'f'), 'hello', { mode: 0o640 });
    await mkdir(join(dir, 'd'));
    await symlink('f', join(dir, 'l'));
    const st = await stat(join(dir, 'f'));
    const missing = join(dir, 'missing');
    const r = await pool.lstatMany([join(dir, 'f'), join(dir, 'd'), join(dir, 'l'), missing]);
    expect(r[0]).toMatchObject({ kind: 'file', size: 5, mtimeMs: st.mtimeMs, mode: 0o640 });
    expect(r[1]!.kind).toBe('dir');
    expect(r[2]!.kind).toBe('symlink');
    expect(r[3]).toEqual({ errno: 'ENOENT', message: `no such file or directory, lstat ${JSON.stringify(missing)}` });
  });
});

describe('read', () => {
  it.each(ALGORITHMS)('reads and hashes whole files (%s), and flags changed and missing ones', async (algorithm) => {
    const a = Buffer.from('first file');
    const b = Buffer.from('second, longer file');
    await writeFile(join(dir, 'a'), a);
    await writeFile(join(dir, 'b'), b);
    await writeFile(join(dir, 'grown'), 'abcd');
    const r = await pool.readFiles([
      { path: join(dir, 'a'), size: a.length },
      { path: join(dir, 'grown'), size: 3 },
      { path: join(dir, 'missing'), size: 1 },
      { path: join(dir, 'b'), size: b.length },
    ], algorithm);
    expect(r[0]!.data).toEqual(a);
    expect(r[0]!.checksum).toBe(await digest(algorithm, a));
    expect(r[1]).toEqual({ data: null, checksum: '', errno: 'ECHANGED', message: 'size changed' });
    expect(r[2]!.errno).toBe('ENOENT');
    expect(r[3]!.data).toEqual(b);
    expect(r[3]!.checksum).toBe(await digest(algorithm, b));
  });
});

describe('readInto', () => {
  it('reads files into a shared buffer, keeps the bytes around them, and flags a grown file at the very end', async () => {
    await writeFile(join(dir, 'x'), 'xxxx');
    await writeFile(join(dir, 'y'), 'yyyyyy');
    await writeFile(join(dir, 'short'), 'sh');
    const shared = Buffer.from(new SharedArrayBuffer(32)).fill(0x2e);
    const view = shared.subarray(4, 24);
    const r = await pool.readInto([
      { path: join(dir, 'x'), size: 4, at: 0 },
      { path: join(dir, 'short'), size: 3, at: 5 },
      { path: join(dir, 'y'), size: 6, at: 14 },
    ], view, 'xxh128');
    expect(r[0]).toEqual({ checksum: await digest('xxh128', Buffer.from('xxxx')) });
    expect(r[1]).toEqual({ errno: 'ECHANGED', message: 'size changed' });
    expect(r[2]).toEqual({ checksum: await digest('xxh128', Buffer.from('yyyyyy')) });
    expect(shared.toString('latin1', 0, 9)).toBe('....xxxx.');
    expect(shared.toString('latin1', 18, 32)).toBe('yyyyyy........');
    // The last file ends the whole buffer: whether it grew is asked of the file itself.
    const tail = Buffer.from(new SharedArrayBuffer(8));
    const [grown, whole] = await Promise.all([
      pool.readInto([{ path: join(dir, 'y'), size: 5, at: 3 }], tail, 'sha256'),
      pool.readInto([{ path: join(dir, 'y'), size: 6, at: 2 }], tail.subarray(0, 8), 'sha256'),
    ]);
    expect(grown[0]).toEqual({ errno: 'ECHANGED', message: 'size changed' });
    expect(whole[0]).toEqual({ checksum: await digest('sha256', Buffer.from('yyyyyy')) });
  });
});

describe('commit', () => {
  it.each([false, true])('places verified files, reports a mismatch and leaves its partial (durable %s)', async (durable) => {
    const good = Buffer.from('good bytes');
    const bad = Buffer.from('damaged bytes');
    await writeFile(join(dir, '.part-written'), 'written earlier');
    await writeFile(join(dir, '.part-swapped'), 'not the session file');
    const r = await commitByPath(pool, [
      { partial: join(dir, '.part-good'), final: join(dir, 'good'), data: good, mode: 0o600, mtimeMs: 1_500_000_000_000, verify: 'sha256', expected: await digest('sha256', good) },
      { partial: join(dir, '.part-bad'), final: join(dir, 'bad'), data: bad, mode: 0o644, mtimeMs: null, verify: 'xxh128', expected: '0'.repeat(32) },
      { partial: join(dir, '.part-written'), final: join(dir, 'written'), mode: 0o640, mtimeMs: null, verify: 'xxh128', expected: await digest('xxh128', Buffer.from('written earlier')), identity: identityOf(join(dir, '.part-written')) },
      { partial: join(dir, '.part-empty'), final: join(dir, 'empty'), data: Buffer.alloc(0), mode: 0o644, mtimeMs: null, verify: null, expected: '' },
      { partial: join(dir, '.part-gone'), final: join(dir, 'gone'), mode: 0o644, mtimeMs: null, verify: null, expected: '' },
      // Another file put at a written partial's name (its identity differs): never committed.
      { partial: join(dir, '.part-swapped'), final: join(dir, 'swapped'), mode: 0o644, mtimeMs: null, verify: null, expected: '', identity: { dev: 1n, ino: 1n } },
    ], durable);
    expect(r.results[5]).toMatchObject({ errno: 'ESTALE' });
    expect(r.dirError).toBeNull();
    expect(r.results[0]).toEqual({ ok: true });
    expect(r.results[1]).toEqual({ mismatch: await digest('xxh128', bad) });
    expect(r.results[2]).toEqual({ ok: true });
    expect(r.results[3]).toEqual({ ok: true });
    expect(r.results[4]!.errno).toBe('ENOENT');
    expect(await readFile(join(dir, 'good'))).toEqual(good);
    const st = await stat(join(dir, 'good'));
    expect([st.mode & 0o777, st.mtimeMs]).toEqual([0o600, 1_500_000_000_000]);
    expect((await stat(join(dir, 'written'))).mode & 0o777).toBe(0o640);
    expect((await readFile(join(dir, 'empty'))).length).toBe(0);
    expect(await readFile(join(dir, '.part-bad'))).toEqual(bad);
    await expect(stat(join(dir, 'bad'))).rejects.toThrow(/ENOENT/);
  });
});

describe('hashing', () => {
  it.each(ALGORITHMS)('streams plain and shared bytes and file ranges (%s) in order', async (algorithm) => {
    const file = Buffer.alloc(3 * 4096 + 100, 7);
    await writeFile(join(dir, 'f'), file);
    const shared = Buffer.from(new SharedArrayBuffer(16)).fill(9);
    const h = pool.createHash(algorithm);
    let released = false;
    h.update(Buffer.from('plain '));
    h.update(shared, () => { released = true; });
    const direct = await h.updateFromFile!(join(dir, 'f'), 0, 2 * 4096, true);
    await h.updateFromFile!(join(dir, 'f'), 2 * 4096, file.length - 2 * 4096, false);
    expect(await h.digest()).toBe(await digest(algorithm, Buffer.concat([Buffer.from('plain '), shared, file])));
    expect(released).toBe(true);
    // O_DIRECT where the temp file system has it (tmpfs has not): never more than asked for.
    expect(direct === 0 || direct === 2 * 4096).toBe(true);
  });

  it('replies errors as {code, message}: a range past the end, a dropped stream', async () => {
    await writeFile(join(dir, 'f'), 'short');
    const h = pool.createHash('sha256');
    await expect(h.updateFromFile!(join(dir, 'f'), 0, 100)).rejects.toMatchObject({ code: 'ESHORT', message: 'file is shorter than what was written to it' });
    await expect(h.updateFromFile!(join(dir, 'missing'), 0, 1)).rejects.toMatchObject({ code: 'ENOENT' });
    h.dispose();
    await expect(h.digest()).rejects.toMatchObject({ code: 'EIO', message: 'unknown hash stream' });
  });

  it('a stream whose hasher cannot be made answers its callers with the error and leaves the worker serving', async () => {
    await writeFile(join(dir, 'f'), 'bytes');
    // An algorithm the worker cannot make: its hasher promise rejects inside the worker.
    const h = pool.createHash('no-such-hash' as unknown as 'sha256');
    const shared = Buffer.from(new SharedArrayBuffer(8)).fill(1);
    let released = false;
    // A plain update is not answered: only the worker's own handling keeps its failure from
    // being an unhandled rejection that would end the worker.
    h.update(Buffer.from('plain'));
    h.update(shared, () => { released = true; });
    await expect(h.updateFromFile!(join(dir, 'f'), 0, 5)).rejects.toThrow(/digest|hash|support/i);
    await expect(h.digest()).rejects.toThrow(/digest|hash|support/i);
    expect(released).toBe(true);
    // Same (only) worker, still alive: other work goes on.
    expect((await pool.lstatMany([join(dir, 'f')]))[0]).toMatchObject({ kind: 'file', size: 5 });
  });

  it.each(ALGORITHMS)('hashes whole files read by the worker (%s)', async (algorithm) => {
    const data = Buffer.alloc(2 * 1024 * 1024 + 5, 3);
    await writeFile(join(dir, 'big'), data);
    expect(await pool.hashFile(join(dir, 'big'), algorithm)).toEqual({ checksum: await digest(algorithm, data), bytes: data.length });
    await expect(pool.hashFile(join(dir, 'missing'), algorithm)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
