import { describe, expect, it } from 'vitest';
import type { Digest, FastHash } from '../../../src/transfer/checksum/fast-hash.js';
import { seededRandom } from '../../helpers/seeded-random.js';
import { nativeHash, nativeReason, twinHash } from './impls.js';

// Random inputs hashed with XXH3-128 by the addon and by its hash-wasm twin in lockstep: random
// lengths (mostly short, some past a few XXH3 stripes and blocks, a few in the megabytes) and
// random split points. Every digest must match. FERRY_HASH_SEED=n replays one seed.

const SEEDS = process.env.FERRY_HASH_SEED !== undefined ? [Number(process.env.FERRY_HASH_SEED)] : [1, 2, 3, 4, 5, 6, 7, 8];
const CASES_PER_SEED = 60;

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/** Lengths near the edges that matter (0, 1, XXH3's short-input limits 128 and 240, its 64-byte stripe and 1024-byte block) more often than chance would. */
function randomLength(rand: () => number): number {
  const r = rand();
  if (r < 0.2) return [0, 1, 63, 64, 65, 127, 128, 129, 239, 240, 241, 1023, 1024, 1025, 2048, 4097][(rand() * 16) | 0]!;
  if (r < 0.8) return (rand() * 5000) | 0;
  if (r < 0.97) return (rand() * 300_000) | 0;
  return 1_000_000 + ((rand() * 2_500_000) | 0);
}

function randomCuts(rand: () => number, length: number): number[] {
  const n = (rand() * 6) | 0;
  return Array.from({ length: n }, () => (rand() * (length + 1)) | 0).sort((a, b) => a - b);
}

function feed(h: Digest, data: Uint8Array, cuts: readonly number[]): void {
  let at = 0;
  for (const c of [...cuts, data.length]) {
    h.update(data.subarray(at, c));
    at = c;
  }
}

async function digest(fh: FastHash, data: Buffer, cuts: number[]): Promise<string> {
  const x = await fh.xxh128();
  feed(x, data, cuts);
  return x.digest().toString('hex');
}

describe('FastHash differential: native against twin', () => {
  if (nativeReason !== undefined) {
    it.skip(`native addon not built: ${nativeReason}`, () => undefined);
    return;
  }
  it.each(SEEDS)('seed %i: identical digests', async (seed) => {
    const native = nativeHash!;
    const rand = seededRandom(seed);
    for (let i = 0; i < CASES_PER_SEED; i++) {
      const length = randomLength(rand);
      const data = randomBytes(rand, length);
      const cuts = randomCuts(rand, length);
      const context = `seed ${seed} case ${i}: ${length} bytes, cuts ${cuts.join(',')}`;
      expect(await digest(native, data, cuts), context).toBe(await digest(twinHash, data, cuts));
    }
  }, 60_000);
});
