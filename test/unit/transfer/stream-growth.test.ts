import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { TcpInfo } from '../../../src/fs/index.js';
import { lossLimited, MIN_LOSS_RATIO, type GrowthReason } from '../../../src/transfer/session/stream-growth.js';
import { chunkSizeFor } from '../../../src/transfer/tuning.js';
import { ok, runPair } from './session-fixture.js';
import { dst, src } from './temp-roots.js';

/**
 * Spare data streams: connected up front, idle until the running ones are loss-limited. The
 * decision is judged from TCP_INFO deltas (pure, here with counters as a lossy cubic path and
 * other paths show them); the session runs over real loopback sockets, where no packet is lost,
 * so a session that must grow gets its readings from a probe that reports a lossy path.
 */

const info = (o: Partial<TcpInfo> = {}): TcpInfo => ({
  rttUs: 50_000, retransmits: 0, bytesSent: 0, bytesRetransmitted: 0, busyUs: 0, rwndLimitedUs: 0, sndbufLimitedUs: 0, cwnd: 10, ...o,
});
const SECOND_US = 1_000_000;

describe('lossLimited: when spare streams help', () => {
  it('a cubic stream on a lossy path: retransmits while its window holds it back', () => {
    const why = lossLimited([info()], [info({ retransmits: 4, bytesSent: 2e6, bytesRetransmitted: 6000, busyUs: 0.97 * SECOND_US })], SECOND_US);
    expect(why).not.toBeNull();
    expect(why!.lossRatio).toBeCloseTo(0.003, 6);
    expect(why!.cwndLimitedShare).toBeCloseTo(0.97, 6);
  });

  it('sums over the streams, pairwise from where each stood', () => {
    const before = [info({ bytesSent: 1e9, retransmits: 100, bytesRetransmitted: 1e6, busyUs: 5e6 }), info()];
    const after = [
      info({ bytesSent: 1e9 + 1e6, retransmits: 101, bytesRetransmitted: 1e6 + 1448, busyUs: 6e6 }),
      info({ bytesSent: 1e6, retransmits: 1, bytesRetransmitted: 1448, busyUs: 0.5e6 }),
    ];
    expect(lossLimited(before, after, SECOND_US)).toEqual<GrowthReason>({ lossRatio: 2896 / 2e6, cwndLimitedShare: 0.75 });
  });

  it('not without retransmits, nor below the loss floor (a stray one on a LAN)', () => {
    expect(lossLimited([info()], [info({ bytesSent: 1e8, busyUs: SECOND_US })], SECOND_US)).toBeNull();
    const sent = 1e8;
    const stray = info({ bytesSent: sent, retransmits: 1, bytesRetransmitted: sent * MIN_LOSS_RATIO / 2, busyUs: SECOND_US });
    expect(lossLimited([info()], [stray], SECOND_US)).toBeNull();
  });

  it('not when the receiver or the send buffer held the streams, or they were idle (disk, CPU)', () => {
    const lossy = { retransmits: 10, bytesSent: 1e6, bytesRetransmitted: 1e4 };
    expect(lossLimited([info()], [info({ ...lossy, busyUs: SECOND_US, rwndLimitedUs: 0.8 * SECOND_US })], SECOND_US)).toBeNull();
    expect(lossLimited([info()], [info({ ...lossy, busyUs: SECOND_US, sndbufLimitedUs: 0.6 * SECOND_US })], SECOND_US)).toBeNull();
    expect(lossLimited([info()], [info({ ...lossy, busyUs: 0.2 * SECOND_US })], SECOND_US)).toBeNull();
  });

  it('no judgment from mismatched or empty readings, or no time', () => {
    const lossy = info({ retransmits: 10, bytesSent: 1e6, bytesRetransmitted: 1e4, busyUs: SECOND_US });
    expect(lossLimited([], [], SECOND_US)).toBeNull();
    expect(lossLimited([info()], [lossy, lossy], SECOND_US)).toBeNull();
    expect(lossLimited([info()], [lossy], 0)).toBeNull();
    expect(lossLimited([info()], [info({ bytesSent: 0, retransmits: 3, busyUs: SECOND_US })], SECOND_US)).toBeNull();
  });
});

describe('chunkSizeFor: frames shrink with spare streams, so buffers do not grow with them', () => {
  const MiB = 1024 * 1024;
  it('keeps the chunk size without spares; whole MiB, at least one, with them', () => {
    expect(chunkSizeFor(4 * MiB, 4, 4)).toBe(4 * MiB);
    expect(chunkSizeFor(4 * MiB, 4, 16)).toBe(MiB);
    expect(chunkSizeFor(4 * MiB, 4, 8)).toBe(2 * MiB);
    expect(chunkSizeFor(3 * MiB, 4, 5)).toBe(2 * MiB);
    expect(chunkSizeFor(4 * MiB, 1, 16)).toBe(MiB);
    // Already small (tests' tiny chunks): left alone.
    expect(chunkSizeFor(256 * 1024, 2, 6)).toBe(256 * 1024);
  });
});

/** A probe that reports, for every socket asked about, a cubic stream losing 1 % while window-limited. */
function lossyProbe(): { probe(socket: Duplex): TcpInfo; asked: Set<Duplex> } {
  const start = new Map<Duplex, number>();
  const asked = new Set<Duplex>();
  return {
    asked,
    probe(socket) {
      asked.add(socket);
      const t0 = start.get(socket) ?? performance.now();
      start.set(socket, t0);
      const us = (performance.now() - t0) * 1000;
      // 1 MB/s sent, 1 % of it again, busy and window-limited the whole time.
      return info({ bytesSent: us, bytesRetransmitted: us / 100, retransmits: Math.floor(us / 100_000), busyUs: us });
    },
  };
}

describe('spare streams in a session (loopback)', () => {
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  it('stay idle without loss: only options.parallelism streams carry data, and the file arrives whole', async () => {
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(join(src, 'spare-idle.bin'), data);
    const asked: Duplex[] = [];
    const steps: number[] = [];
    const r = await runPair({
      srcRoot: src, dstRoot: dst, streams: 1 + 6,
      items: [{ sourcePath: '/spare-idle.bin', destinationPath: '/spare-idle.bin', recursive: false }],
      options: { parallelism: 2 },
      tuning: { chunkSize: 64 * 1024 },
      srcTuning: { streamGrowthIntervalMs: 5 },
      // Counters of a clean path: nothing is resent.
      growth: { probe: (s) => { asked.push(s); return info(); }, grown: (active) => steps.push(active) },
    });
    const stats = ok(r.dst);
    expect(stats.streams).toBeGreaterThanOrEqual(1);
    expect(stats.streams).toBeLessThanOrEqual(2);
    expect(steps).toEqual([]);
    expect(sha(await readFile(join(dst, 'spare-idle.bin')))).toBe(sha(data));
    expect(asked.length).toBeGreaterThan(0);
  });

  it('go to work one by one while the running ones are loss-limited, up to all connected', async () => {
    const data = randomBytes(96 * 1024 * 1024);
    await writeFile(join(src, 'spare-grow.bin'), data);
    const lossy = lossyProbe();
    const steps: number[] = [];
    const r = await runPair({
      srcRoot: src, dstRoot: dst, streams: 1 + 5,
      items: [{ sourcePath: '/spare-grow.bin', destinationPath: '/spare-grow.bin', recursive: false }],
      options: { parallelism: 2 },
      tuning: { chunkSize: 256 * 1024 },
      srcTuning: { streamGrowthIntervalMs: 2 },
      growth: { probe: lossy.probe, grown: (active, why) => { steps.push(active); expect(why.lossRatio).toBeCloseTo(0.01, 3); } },
    });
    const stats = ok(r.dst);
    // Each step adds exactly one stream, never past the five connected.
    expect(steps.length).toBeGreaterThan(0);
    expect(steps).toEqual(Array.from({ length: steps.length }, (_, k) => 3 + k));
    expect(steps.at(-1)).toBeLessThanOrEqual(5);
    // The destination saw data on the added streams too (what the task document reports).
    expect(stats.streams).toBeGreaterThan(2);
    expect(stats.streams).toBeLessThanOrEqual(steps.at(-1)!);
    expect(sha(await readFile(join(dst, 'spare-grow.bin')))).toBe(sha(data));
  });
});
