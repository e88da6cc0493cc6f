import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { refByPath, VerifyTracker } from '../../../src/transfer/chunks/verify-tracker.js';
import type { StreamingHash } from '../../../src/transfer/checksum/hash.js';
import { sharedIoPool } from '../../../src/transfer/workers/io-pool.js';
import { ok, runPair } from './session-fixture.js';
import { dst, src } from './temp-roots.js';

type FileHash = StreamingHash & Required<Pick<StreamingHash, 'updateFromFile'>>;

function workerHash(algorithm: 'sha256' | 'md5' | 'xxh128'): FileHash {
  return sharedIoPool('hash', 1).createHash(algorithm) as FileHash;
}

/** Pieces of [0, size) in a shuffled order. */
function shuffledPieces(size: number, piece: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let o = 0; o < size; o += piece) out.push([o, Math.min(piece, size - o)]);
  for (let k = out.length - 1; k > 0; k--) {
    const j = Math.floor(Math.random() * (k + 1));
    [out[k], out[j]] = [out[j]!, out[k]!];
  }
  return out;
}

describe('VerifyTracker', () => {
  it('hashes the written prefix as it grows, whatever order the writes land in', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 4321);
    const path = join(dst, 'partial');
    const fh = await open(path, 'w');
    const tracker = new VerifyTracker(refByPath(path), data.length, workerHash('sha256'), 256 * 1024);
    try {
      for (const [offset, length] of shuffledPieces(data.length, 100_000)) {
        await fh.write(data, offset, length, offset);
        tracker.wrote(offset, length);
      }
    } finally {
      await fh.close();
    }
    expect(await tracker.finish()).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('hashes what is on disk, not what was meant to be written', async () => {
    const data = randomBytes(1024 * 1024);
    const path = join(dst, 'partial');
    const onDisk = Buffer.from(data);
    onDisk[700_000] = onDisk[700_000]! ^ 1;
    await writeFile(path, onDisk);
    const tracker = new VerifyTracker(refByPath(path), data.length, workerHash('md5'), 64 * 1024);
    tracker.wrote(0, data.length);
    const computed = await tracker.finish();
    expect(computed).toBe(createHash('md5').update(onDisk).digest('hex'));
    expect(computed).not.toBe(createHash('md5').update(data).digest('hex'));
  });

  it('reads at finish what this session did not write (kept from an earlier attempt), and rejects a short file', async () => {
    const data = randomBytes(1000);
    const path = join(dst, 'partial');
    await writeFile(path, data);
    const resumed = new VerifyTracker(refByPath(path), 1000, workerHash('sha256'), 100);
    resumed.wrote(500, 500);
    expect(await resumed.finish()).toBe(createHash('sha256').update(data).digest('hex'));
    const short = new VerifyTracker(refByPath(path), 2000, workerHash('sha256'), 100_000);
    short.wrote(0, 2000);
    await expect(short.finish()).rejects.toMatchObject({ code: 'ESHORT' });
  });
});

describe('transfer session: verify_checksum while writing', () => {
  it('verifies a chunked file as it lands; damage on disk re-sends the whole file once', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 999);
    await writeFile(join(src, 'big'), data);
    let damaged = false;
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/big', destinationPath: '/big', recursive: false }],
      options: { verifyChecksum: true, parallelism: 3 },
      // Small chunks and steps, so the prefix is hashed many times during the transfer.
      tuning: { chunkSize: 64 * 1024, offThreadHashBytes: 1024 * 1024, verifyStepBytes: 256 * 1024 },
      dstTuning: {
        corruptWrite: (_i, offset) => {
          if (damaged || offset !== 2 * 1024 * 1024) return false;
          damaged = true;
          return true;
        },
      },
    });
    const stats = ok(r.dst);
    expect((await readFile(join(dst, 'big'))).equals(data)).toBe(true);
    const ev = r.dstRep.events.filter((e) => e.code === 'VERIFY_CHECKSUM').map((e) => JSON.parse(e.details) as Record<string, unknown>);
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ reason: 'whole-file checksum mismatch after writing', resent: true, expected: createHash('sha256').update(data).digest('hex') });
    expect(stats.faults).toBe(1);
    expect(stats.bytesChecksummed).toBe(2 * data.length);
    expect(r.dstRep.files).toHaveLength(1);
  });

  it('gives the same result as the re-read at commit for an intact file', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 17);
    await writeFile(join(src, 'big'), data);
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/big', destinationPath: '/big', recursive: false }],
      options: { verifyChecksum: true, checksumAlgorithm: 'xxh128' },
      tuning: { chunkSize: 128 * 1024, offThreadHashBytes: 512 * 1024, verifyStepBytes: 300_000 },
    });
    const stats = ok(r.dst);
    expect((await readFile(join(dst, 'big'))).equals(data)).toBe(true);
    expect(stats).toMatchObject({ faults: 0, bytesChecksummed: data.length, filesTransferred: 1 });
  });
});
