import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, openSync, readdirSync, readFileSync, writeSync, closeSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/common/errors.js';
import { SessionFrameType } from '../../../src/protocol/data-frames.js';
import { SqliteMarkerStore } from '../../../src/transfer/markers/store.js';
import { ok, rejection, removeAll, runPair, tempDir, type PairOptions } from './session-fixture.js';
import * as roots from './temp-roots.js';

/**
 * Restart markers in the engine (issue 4): an interrupted destination keeps its partials and
 * their durable ranges; the next attempt of the same task checks them against the source's
 * block sums and asks only for the rest; finished files are not sent again; damage and source
 * changes are caught.
 */

const MiB = 1024 * 1024;
let markers: SqliteMarkerStore;
let markersDir: string;

beforeEach(async () => {
  markersDir = await tempDir();
  markers = new SqliteMarkerStore(join(markersDir, 'markers.db'));
});
afterEach(async () => {
  markers.close();
  await removeAll(markersDir);
});

/** Stop the destination (keeping its partials, as when control ends an attempt) after `chunks` CHUNK frames arrived. */
function interruptAfter(chunks: number): Pick<PairOptions, 'dstSignal' | 'sniff'> {
  const abort = new AbortController();
  let seen = 0;
  return {
    dstSignal: abort.signal,
    sniff: (type) => {
      if (type === SessionFrameType.CHUNK && ++seen === chunks) {
        abort.abort(new FerryError('ClientError.Conflict', 'attempt ended', { details: { keepPartials: true } }));
      }
    },
  };
}

const tuning = { chunkSize: 256 * 1024, flushBytes: 1 * MiB, largeFilesInFlight: 2 };
const partialsIn = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.ferry-part.'));

describe('resuming from restart markers', () => {
  it('keeps what an interrupted attempt made durable and sends only the rest', async () => {
    const data = randomBytes(24 * MiB + 12345);
    writeFileSync(join(roots.src, 'big.bin'), data);
    const taskId = randomUUID();
    const base = { srcRoot: roots.src, dstRoot: roots.dst, items: [{ sourcePath: '/big.bin', destinationPath: '/big.bin', recursive: false }], taskId, markers, tuning };
    const first = await runPair({ ...base, ...interruptAfter(40) });
    expect(rejection(first.dst).code).toBe('Transfer.Canceled');
    expect(partialsIn(roots.dst)).toHaveLength(1);
    const kept = markers.ofTask(taskId)[0]!.ranges.reduce((n, [s, e]) => n + e - s, 0);
    expect(kept).toBeGreaterThanOrEqual(1 * MiB);

    const second = await runPair(base);
    const stats = ok(second.dst);
    expect(readFileSync(join(roots.dst, 'big.bin')).equals(data)).toBe(true);
    const resumed = second.dstRep.events.find((e) => e.code === 'RESUMED');
    const details = JSON.parse(resumed!.details) as { bytes_kept: number; blocks_rejected: number };
    // A chunk the first attempt was still writing when it stopped may be made durable and
    // recorded a moment after runPair returned: the second attempt keeps at least what was read.
    expect(details.bytes_kept).toBeGreaterThanOrEqual(kept);
    expect(details.blocks_rejected).toBe(0);
    expect(stats.bytesTransferred).toBe(data.length - details.bytes_kept);
    expect(partialsIn(roots.dst)).toEqual([]);
    expect(markers.ofTask(taskId)).toEqual([]);
  });

  it('catches a partial altered while the agent was down and re-sends the damaged blocks', async () => {
    const data = randomBytes(16 * MiB);
    writeFileSync(join(roots.src, 'big.bin'), data);
    const taskId = randomUUID();
    const base = { srcRoot: roots.src, dstRoot: roots.dst, items: [{ sourcePath: '/big.bin', destinationPath: '/big.bin', recursive: false }], taskId, markers, tuning, options: { verifyChecksum: true } };
    await runPair({ ...base, ...interruptAfter(40) });
    const [partial] = partialsIn(roots.dst);
    const [[start]] = markers.ofTask(taskId)[0]!.ranges as [[number, number]];
    const fd = openSync(join(roots.dst, partial!), 'r+');
    writeSync(fd, Buffer.from('tampered'), 0, 8, start + 100);
    closeSync(fd);

    const second = await runPair(base);
    ok(second.dst);
    expect(readFileSync(join(roots.dst, 'big.bin')).equals(data)).toBe(true);
    const codes = second.dstRep.events.map((e) => e.code);
    expect(codes).toContain('VERIFY_CHECKSUM');
    const resumed = JSON.parse(second.dstRep.events.find((e) => e.code === 'RESUMED')!.details) as { blocks_rejected: number };
    expect(resumed.blocks_rejected).toBeGreaterThan(0);
  });

  it('starts over, with an event, when the source changed since the interrupted attempt', async () => {
    writeFileSync(join(roots.src, 'big.bin'), randomBytes(16 * MiB));
    const taskId = randomUUID();
    const base = { srcRoot: roots.src, dstRoot: roots.dst, items: [{ sourcePath: '/big.bin', destinationPath: '/big.bin', recursive: false }], taskId, markers, tuning };
    await runPair({ ...base, ...interruptAfter(40) });
    appendFileSync(join(roots.src, 'big.bin'), randomBytes(1000));

    const second = await runPair(base);
    const stats = ok(second.dst);
    expect(readFileSync(join(roots.dst, 'big.bin')).equals(readFileSync(join(roots.src, 'big.bin')))).toBe(true);
    expect(second.dstRep.events.map((e) => e.code)).toContain('FILE_SIZE_CHANGED');
    expect(stats.bytesTransferred).toBe(16 * MiB + 1000);
  });

  it('does not send again files an earlier attempt finished, and still counts them', async () => {
    mkdirSync(join(roots.src, 'tree'));
    for (let i = 0; i < 30; i++) writeFileSync(join(roots.src, 'tree', `f${i}.bin`), randomBytes(600 * 1024 + i));
    const taskId = randomUUID();
    const base = { srcRoot: roots.src, dstRoot: roots.dst, items: [{ sourcePath: '/tree', destinationPath: '/tree', recursive: true }], taskId, markers, tuning: { ...tuning, commitBatch: 2 } };
    const first = await runPair({ ...base, ...interruptAfter(50) });
    expect(first.dst.status).toBe('rejected');
    const doneFirst = first.dstRep.files.length;
    expect(doneFirst).toBeGreaterThan(0);

    const second = await runPair(base);
    const stats = ok(second.dst);
    expect(stats.filesTransferred).toBe(30);
    const total = 30 * 600 * 1024 + (29 * 30) / 2;
    expect(stats.bytesTransferred).toBeLessThan(total - doneFirst * 600 * 1024);
    for (let i = 0; i < 30; i++) expect(readFileSync(join(roots.dst, 'tree', `f${i}.bin`)).equals(readFileSync(join(roots.src, 'tree', `f${i}.bin`)))).toBe(true);
    expect(partialsIn(join(roots.dst, 'tree'))).toEqual([]);
  });
});

describe('a source file that changes while it is read', () => {
  it('is dropped from the attempt with an event, the session asks for a retry, and the retry sends the new version', async () => {
    const path = join(roots.src, 'live.bin');
    writeFileSync(path, randomBytes(8 * MiB));
    const taskId = randomUUID();
    let touched = false;
    const base = { srcRoot: roots.src, dstRoot: roots.dst, items: [{ sourcePath: '/live.bin', destinationPath: '/live.bin', recursive: false }], taskId, markers, tuning };
    // A writer rewrites the start of the file while the source is half way through reading it.
    const first = await runPair({
      ...base,
      srcTuning: {
        corruptChunk: (_i, offset) => {
          if (!touched && offset >= 4 * MiB) {
            touched = true;
            const fd = openSync(path, 'r+');
            writeSync(fd, randomBytes(4096), 0, 4096, 0);
            closeSync(fd);
          }
          return false;
        },
      },
    });
    expect(touched).toBe(true);
    expect(rejection(first.dst).code).toBe('Transfer.SourceChanged');
    expect(first.dstRep.events.map((e) => e.code)).toContain('FILE_CHANGED');
    expect(partialsIn(roots.dst)).toEqual([]);
    expect(() => readFileSync(join(roots.dst, 'live.bin'))).toThrow();

    const second = await runPair(base);
    ok(second.dst);
    expect(readFileSync(join(roots.dst, 'live.bin')).equals(readFileSync(path))).toBe(true);
  });
});
