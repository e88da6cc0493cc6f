import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparable, ok, rejection, runPair, snapshot } from './session-fixture.js';
import { dst, src } from './temp-roots.js';

/**
 * A session over clear-text data streams (encrypt_data false): every frame on streams 1..N
 * sealed and checked with AES-256-GMAC (wire/frame-auth.ts); the control stream unchanged.
 */
describe('transfer session: clear-text data streams', () => {
  it('copies large files (CHUNKs) and small ones (tar batches) byte for byte', async () => {
    await mkdir(join(src, 'c'));
    const big = randomBytes(3 * 1024 * 1024 + 99);
    await writeFile(join(src, 'c', 'big'), big);
    for (let k = 0; k < 40; k++) await writeFile(join(src, 'c', `s${k}`), randomBytes(50 + k * 31));
    const r = await runPair({
      srcRoot: src, dstRoot: dst, clear: true, options: { parallelism: 3, verifyChecksum: true },
      items: [{ sourcePath: '/c', destinationPath: '/c', recursive: true }], tuning: { chunkSize: 256 * 1024 },
    });
    expect(ok(r.dst)).toMatchObject({ filesTransferred: 41, faults: 0 });
    ok(r.src);
    expect((await readFile(join(dst, 'c', 'big'))).equals(big)).toBe(true);
    expect(comparable(await snapshot(join(dst, 'c')))).toEqual(comparable(await snapshot(join(src, 'c'))));
  });

  it('still catches a chunk damaged in the source\'s memory before it was sealed (its CRC), and re-sends it', async () => {
    const data = randomBytes(1024 * 1024 + 5);
    await writeFile(join(src, 'g'), data);
    let hit = 0;
    const r = await runPair({
      srcRoot: src, dstRoot: dst, clear: true, items: [{ sourcePath: '/g', destinationPath: '/g', recursive: false }],
      options: { verifyChecksum: false }, tuning: { chunkSize: 128 * 1024 },
      srcTuning: { corruptChunk: (_i, offset) => offset === 128 * 1024 && hit++ === 0 },
    });
    expect(ok(r.dst).faults).toBe(1);
    expect((await readFile(join(dst, 'g'))).equals(data)).toBe(true);
    expect(r.dstRep.events.map((e) => JSON.parse(e.details) as { reason: string }).map((d) => d.reason)).toEqual(['chunk checksum mismatch']);
  });

  it('writes nothing from a stream whose MACs do not check out, and fails with Transfer.ChunkMacMismatch', async () => {
    await mkdir(join(src, 'w'));
    for (let k = 0; k < 10; k++) await writeFile(join(src, 'w', `s${k}`), randomBytes(100 + k));
    const r = await runPair({ srcRoot: src, dstRoot: dst, clear: 'wrong-keys', items: [{ sourcePath: '/w', destinationPath: '/w', recursive: true }] });
    expect(rejection(r.dst).code).toBe('Transfer.ChunkMacMismatch');
    // The directory came over the control stream (TLS in real sessions); no file, not even a partial one.
    expect([...(await snapshot(dst)).values()].map((e) => e.type)).toEqual(['dir']);
  });
});
