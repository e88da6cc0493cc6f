import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparable, ok, rejection, resolverFor, runPair, snapshot } from './session-fixture.js';
import { dst, src } from './temp-roots.js';


async function allNames(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('transfer session: integrity', () => {
  it('detects a corrupted chunk, reports VERIFY_CHECKSUM and re-sends only that chunk', async () => {
    const data = randomBytes(1024 * 1024 + 777);
    await writeFile(join(src, 'f'), data);
    const hits: number[] = [];
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/f', destinationPath: '/f', recursive: false }],
      tuning: { chunkSize: 128 * 1024 },
      srcTuning: {
        corruptChunk: (_i, offset) => {
          hits.push(offset);
          return offset === 256 * 1024 && hits.filter((o) => o === offset).length === 1;
        },
      },
    });
    const stats = ok(r.dst);
    expect((await readFile(join(dst, 'f'))).equals(data)).toBe(true);
    // 9 chunks, then the damaged one once more.
    expect(hits.filter((o) => o === 256 * 1024)).toHaveLength(2);
    expect(hits).toHaveLength(10);
    expect(stats.faults).toBe(1);
    expect(stats.bytesTransferred).toBe(data.length);
    const ev = r.dstRep.events.filter((e) => e.code === 'VERIFY_CHECKSUM');
    expect(ev).toHaveLength(1);
    expect(JSON.parse(ev[0]!.details)).toMatchObject({ reason: 'chunk checksum mismatch', offset: 256 * 1024, length: 128 * 1024, resent: true, destination_path: '/f' });
    expect(r.dstRep.files[0]!.checksum).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('detects a corrupted tar batch frame and re-sends the batch', async () => {
    await mkdir(join(src, 'd'));
    for (let k = 0; k < 20; k++) await writeFile(join(src, 'd', `s${k}`), randomBytes(100 + k));
    let corrupted = 0;
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/d', destinationPath: '/d', recursive: true }],
      srcTuning: { corruptChunk: () => corrupted++ === 0 },
    });
    const stats = ok(r.dst);
    expect(comparable(await snapshot(join(dst, 'd')))).toEqual(comparable(await snapshot(join(src, 'd'))));
    expect(stats).toMatchObject({ faults: 1, filesTransferred: 20 });
    const ev = r.dstRep.events.filter((e) => e.code === 'VERIFY_CHECKSUM');
    expect(ev).toHaveLength(1);
    expect(JSON.parse(ev[0]!.details)).toMatchObject({ reason: 'batch checksum mismatch', resent: true });
  });

  it('verify_checksum re-reads what was written; a mismatch re-sends the whole file', async () => {
    const big = randomBytes(600_000);
    await mkdir(join(src, 'd'));
    await writeFile(join(src, 'd/big'), big);
    await writeFile(join(src, 'd/small'), 'small file');
    const damaged = new Set<string>();
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/d', destinationPath: '/d', recursive: true }],
      options: { verifyChecksum: true },
      tuning: { chunkSize: 100_000, smallFileThreshold: 1000 },
      dstTuning: {
        // Damage the first write of each file once, after the chunk check: only verification can see it.
        corruptWrite: (i, offset) => {
          const key = `${i}:${offset}`;
          if (offset !== 0 || damaged.has(key)) return false;
          damaged.add(key);
          return true;
        },
      },
    });
    const stats = ok(r.dst);
    expect((await readFile(join(dst, 'd/big'))).equals(big)).toBe(true);
    expect(await readFile(join(dst, 'd/small'), 'utf8')).toBe('small file');
    const ev = r.dstRep.events.filter((e) => e.code === 'VERIFY_CHECKSUM').map((e) => JSON.parse(e.details) as Record<string, unknown>);
    expect(ev).toHaveLength(2);
    expect(ev.every((d) => d['reason'] === 'whole-file checksum mismatch after writing' && d['resent'] === true)).toBe(true);
    expect(stats.faults).toBe(2);
    // Each file verified twice (bad, then good).
    expect(stats.bytesChecksummed).toBe(2 * (big.length + 10));
    expect(r.dstRep.files).toHaveLength(2);
  });

  it('fails with Transfer.ChecksumMismatch when a file keeps failing verification', async () => {
    await writeFile(join(src, 'f'), randomBytes(5000));
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/f', destinationPath: '/f', recursive: false }],
      options: { verifyChecksum: true }, dstTuning: { corruptWrite: () => true, maxFileRetries: 2 },
    });
    const err = rejection(r.dst);
    expect(err.code).toBe('Transfer.ChecksumMismatch');
    expect(err.details?.['eventCode']).toBe('VERIFY_CHECKSUM');
    expect(rejection(r.src).code).toBe('Transfer.ChecksumMismatch');
    expect(r.dstRep.events.filter((e) => e.code === 'VERIFY_CHECKSUM')).toHaveLength(3);
    expect(await readdir(dst)).toEqual([]);
  });
});

describe('transfer session: cancel and source errors', () => {
  it('cancel mid-transfer rejects both sides with Transfer.Canceled and leaves no partial or final file', async () => {
    await writeFile(join(src, 'big'), randomBytes(8 * 1024 * 1024));
    await mkdir(join(dst, 'out'));
    const controller = new AbortController();
    let sent = 0;
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/big', destinationPath: '/out/big', recursive: false }],
      signal: controller.signal,
      tuning: { chunkSize: 64 * 1024 },
      srcTuning: {
        corruptChunk: () => {
          if (++sent === 20) controller.abort();
          return false;
        },
      },
    });
    for (const side of [r.src, r.dst]) {
      const err = rejection(side);
      expect(err.code).toBe('Transfer.Canceled');
      expect(err.details?.['eventCode']).toBe('CANCELED');
    }
    expect(sent).toBeLessThan(128);
    expect(await readdir(join(dst, 'out'))).toEqual([]);
    expect(r.dstRep.progressed.length).toBeGreaterThan(0);
  });

  it('a destination-only cancel also stops the source, which learns it from the ERROR frame', async () => {
    await writeFile(join(src, 'big'), randomBytes(4 * 1024 * 1024));
    const controller = new AbortController();
    let sent = 0;
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/big', destinationPath: '/big', recursive: false }],
      tuning: { chunkSize: 64 * 1024 },
      // Only the destination's signal fires (the source's runs never abort).
      dstTuning: { corruptWrite: () => { if (++sent === 10) controller.abort(); return false; } },
      dstSignal: controller.signal,
    });
    expect(rejection(r.dst).code).toBe('Transfer.Canceled');
    expect(rejection(r.src).code).toBe('Transfer.Canceled');
    // No partial file is left. Writes may be coalesced, so under load the whole file can be
    // committed before the abort lands; what is at the final path must then be complete.
    const names = await allNames(dst);
    expect(names.filter((n) => n !== 'big')).toEqual([]);
    if (names.includes('big')) expect((await readFile(join(dst, 'big'))).equals(await readFile(join(src, 'big')))).toBe(true);
  });

  it('a missing source item fails the session with FILE_NOT_FOUND', async () => {
    await writeFile(join(src, 'there'), 'x');
    const r = await runPair({
      srcRoot: src, dstRoot: dst,
      items: [{ sourcePath: '/there', destinationPath: '/there', recursive: null }, { sourcePath: '/missing', destinationPath: '/missing', recursive: null }],
    });
    for (const side of [r.src, r.dst]) {
      const err = rejection(side);
      expect(err.code).toBe('Transfer.SourceNotFound');
      expect(err.details?.['eventCode']).toBe('FILE_NOT_FOUND');
    }
    expect((await allNames(dst)).filter((n) => n.includes('.ferry-part.'))).toEqual([]);
  });

  it('with skip_source_errors a missing item and an unreadable directory are skipped with events', async () => {
    await writeFile(join(src, 'there'), 'x');
    await mkdir(join(src, 'tree/locked'), { recursive: true });
    await writeFile(join(src, 'tree/ok'), 'fine');
    await writeFile(join(src, 'tree/locked/secret'), 's');
    await mkdir(join(dst, 'tree/locked'), { recursive: true });
    await writeFile(join(dst, 'tree/locked/old'), 'keep me');
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) await chmod(join(src, 'tree/locked'), 0o000);
    try {
      const r = await runPair({
        srcRoot: src, dstRoot: dst,
        items: [
          { sourcePath: '/missing', destinationPath: '/missing', recursive: null },
          { sourcePath: '/there', destinationPath: '/there', recursive: null },
          { sourcePath: '/tree', destinationPath: '/tree', recursive: true },
        ],
        options: { skipSourceErrors: true, deleteDestinationExtra: true },
      });
      const stats = ok(r.dst);
      expect(await readFile(join(dst, 'there'), 'utf8')).toBe('x');
      expect(await readFile(join(dst, 'tree/ok'), 'utf8')).toBe('fine');
      const events = r.srcRep.events.map((e) => ({ code: e.code, ...JSON.parse(e.details) as Record<string, unknown> }));
      expect(events).toContainEqual(expect.objectContaining({ code: 'FILE_NOT_FOUND', source_path: '/missing', skipped: true }));
      if (!asRoot) {
        expect(events).toContainEqual(expect.objectContaining({ code: 'PERMISSION_DENIED', source_path: '/tree/locked', is_directory: true }));
        // The unreadable directory's destination keeps what it holds, despite delete_destination_extra.
        expect(await readFile(join(dst, 'tree/locked/old'), 'utf8')).toBe('keep me');
      }
      expect(stats.filesTransferred).toBe(asRoot ? 3 : 2);
      expect(await existsMissing()).toBe(false);
    } finally {
      if (!asRoot) await chmod(join(src, 'tree/locked'), 0o755);
    }
  });
});

async function existsMissing(): Promise<boolean> {
  return (await readdir(dst)).includes('missing');
}

describe('transfer session: a source file that vanishes after it was announced', () => {
  async function run(skipSourceErrors: boolean) {
    await mkdir(join(src, 'tree'));
    await writeFile(join(src, 'tree/stays'), 'here');
    await writeFile(join(src, 'tree/small-gone'), 'small');
    await writeFile(join(src, 'tree/big-gone'), randomBytes(300_000));
    await mkdir(join(dst, 'tree'));
    await writeFile(join(dst, 'tree/big-gone'), 'old copy');
    // The destination places the item only once the whole manifest has arrived; the files
    // are deleted in between, so the source announced them and then cannot read them.
    let manifestEnded!: () => void;
    const ended = new Promise<void>((resolve) => { manifestEnded = resolve; });
    const base = resolverFor(dst);
    return runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/tree', destinationPath: '/tree', recursive: true }],
      options: { skipSourceErrors, deleteDestinationExtra: true },
      tuning: { smallFileThreshold: 1000, chunkSize: 100_000 },
      sniff: (type) => { if (type === 0x12) manifestEnded(); },
      dstResolver: {
        ...base,
        async resolve(path, intent) {
          await ended;
          await rm(join(src, 'tree/small-gone'));
          await rm(join(src, 'tree/big-gone'));
          return base.resolve(path, intent);
        },
      },
    });
  }

  it('is skipped with FILE_NOT_FOUND under skip_source_errors, and its old destination copy is kept', async () => {
    const r = await run(true);
    const stats = ok(r.dst);
    expect(stats).toMatchObject({ files: 3, filesTransferred: 1 });
    expect(await readFile(join(dst, 'tree/stays'), 'utf8')).toBe('here');
    expect(await readFile(join(dst, 'tree/big-gone'), 'utf8')).toBe('old copy');
    expect(await allNames(join(dst, 'tree'))).toEqual(['big-gone', 'stays']);
    const skipped = r.srcRep.events.map((e) => [e.code, (JSON.parse(e.details) as { source_path: string }).source_path]).sort();
    expect(skipped).toEqual([['FILE_NOT_FOUND', '/tree/big-gone'], ['FILE_NOT_FOUND', '/tree/small-gone']]);
    expect(r.dstRep.files.map((f) => f.sourcePath)).toEqual(['/tree/stays']);
  });

  it('fails the session without skip_source_errors, leaving no partial files', async () => {
    const r = await run(false);
    expect(rejection(r.src)).toMatchObject({ code: 'Transfer.SourceNotFound' });
    expect(rejection(r.dst)).toMatchObject({ code: 'Transfer.SourceNotFound' });
    expect((await allNames(dst)).filter((n) => n.includes('.ferry-part.'))).toEqual([]);
  });
});

describe('transfer session: stream layout', () => {
  it('runs with a single stream (data shares the control stream)', async () => {
    await mkdir(join(src, 'd'));
    await writeFile(join(src, 'd/big'), randomBytes(500_000));
    for (let k = 0; k < 30; k++) await writeFile(join(src, 'd', `s${k}`), `small ${k}`);
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/d', destinationPath: '/d', recursive: true }],
      streams: 1, tuning: { chunkSize: 64 * 1024 }, options: { verifyChecksum: true },
    });
    expect(ok(r.dst).filesTransferred).toBe(31);
    expect(comparable(await snapshot(join(dst, 'd')))).toEqual(comparable(await snapshot(join(src, 'd'))));
  });
});
