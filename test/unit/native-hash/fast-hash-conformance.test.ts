import { describe, expect, it } from 'vitest';
import { chooseNative, nativeExports } from '../../../src/fs/load.js';
import { addonPath } from '../../../src/fs/raw-native.js';
import { FastHashError, fastHash, fastHashFallbackReason, fastHashKind, type Digest, type FastHash } from '../../../src/transfer/checksum/fast-hash.js';
import { nativeHash, nativeReason, twinHash, vectorInput, vectors } from './impls.js';

// One suite, run against both FastHash implementations (STYLE.md 14): the XXH3-128 vectors in
// vectors.json (made with xxhsum), edge lengths, updates split at odd boundaries, and identical
// errors for misuse. The native row is skipped only when the addon is not built, and says why.

if (nativeReason !== undefined) console.warn(`fast-hash conformance: native row skipped: ${nativeReason}`);
const impls: Array<[string, FastHash | undefined]> = [
  ['native', nativeHash],
  ['twin', twinHash],
];

const hex = (b: Buffer): string => b.toString('hex');

/** Feed `data` in pieces cut at `cuts` (offsets, in order). */
function feed(h: Digest, data: Uint8Array, cuts: readonly number[]): void {
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < data.length), data.length]) {
    h.update(data.subarray(at, c));
    at = c;
  }
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FastHashError);
    return (err as FastHashError).code;
  }
  throw new Error('expected the call to throw');
}

describe.each(impls)('FastHash conformance: %s', (label, maybe) => {
  if (maybe === undefined) {
    it.skip(`native addon not built: ${nativeReason}`, () => undefined);
    return;
  }
  const fh: FastHash = maybe;

  it('reports its kind', () => {
    expect(fh.kind).toBe(label);
  });

  describe.each(vectors.cases)('vector of $inputLen bytes', (c) => {
    const input = vectorInput(c.inputLen);

    it('XXH3-128', async () => {
      const h = await fh.xxh128();
      h.update(input);
      expect(hex(h.digest())).toBe(c.xxh128);
    });
  });

  it('gives the same digests whatever the update boundaries', async () => {
    const cuts = [1, 63, 64, 65, 1023, 1024, 1025, 2047, 4097, 65_535, 65_536, 1_048_576];
    for (const c of vectors.cases.filter((v) => [1025, 102400, 1048577].includes(v.inputLen))) {
      const input = vectorInput(c.inputLen);
      const x = await fh.xxh128();
      x.update(new Uint8Array(0));
      feed(x, input, cuts);
      x.update(new Uint8Array(0));
      expect(hex(x.digest())).toBe(c.xxh128);
      // Every byte on its own, for the short one.
      if (c.inputLen === 1025) {
        const one = await fh.xxh128();
        feed(one, input, Array.from({ length: c.inputLen }, (_, i) => i));
        expect(hex(one.digest())).toBe(c.xxh128);
      }
    }
  });

  it('keeps many live XXH3-128 digests apart, fed in turns, reset and reused in between', async () => {
    // The twin serves every digest of a thread from one WebAssembly instance, switching states.
    const sizes = [0, 1, 129, 1025, 8193, 102400];
    const inputs = sizes.map((n) => vectorInput(n));
    const want = sizes.map((n) => vectors.cases.find((v) => v.inputLen === n)!.xxh128);
    const live = await Promise.all(sizes.map(() => fh.xxh128()));
    const step = 97;
    for (let at = 0; at < 102400; at += step) {
      live.forEach((h, i) => {
        if (at < inputs[i]!.length) h.update(inputs[i]!.subarray(at, at + step));
      });
      if (at === 97 * 3) {
        // One digest finishes early and starts over while the others are half-way.
        live[3]!.update(new Uint8Array(5));
        live[3]!.reset();
        live[3]!.update(inputs[3]!.subarray(0, at + step));
      }
    }
    expect(live.map((h) => hex(h.digest()))).toEqual(want);
    // Reused after digest, interleaved again with a fresh one.
    const again = await fh.xxh128();
    live[4]!.reset();
    again.update(inputs[5]!.subarray(0, 500));
    live[4]!.update(inputs[4]!);
    again.update(inputs[5]!.subarray(500));
    expect([hex(live[4]!.digest()), hex(again.digest())]).toEqual([want[4], want[5]]);
  });

  it('hashes views at any offset, and shared memory', async () => {
    const c = vectors.cases.find((v) => v.inputLen === 8193)!;
    const padded = Buffer.concat([Buffer.from('xyz'), vectorInput(c.inputLen), Buffer.from('tail')]);
    const shared = new Uint8Array(new SharedArrayBuffer(c.inputLen));
    shared.set(vectorInput(c.inputLen));
    for (const input of [padded.subarray(3, 3 + c.inputLen), shared]) {
      const h = await fh.xxh128();
      h.update(input);
      expect(hex(h.digest())).toBe(c.xxh128);
    }
  });

  it('refuses bad input, and use after digest, with the same codes', async () => {
    const h = await fh.xxh128();
    expect(codeOf(() => h.update('text' as unknown as Uint8Array))).toBe('ERR_HASH_INPUT');
    expect(codeOf(() => h.update(new Uint16Array(4) as unknown as Uint8Array))).toBe('ERR_HASH_INPUT');
    expect(codeOf(() => h.update([1, 2] as unknown as Uint8Array))).toBe('ERR_HASH_INPUT');
    h.digest();
    expect(codeOf(() => h.digest())).toBe('ERR_HASH_FINISHED');
    expect(codeOf(() => h.update(new Uint8Array(1)))).toBe('ERR_HASH_FINISHED');
    h.reset();
    expect(hex(h.digest())).toBe(vectors.cases[0]!.xxh128);
  });
});

describe('FastHash selection', () => {
  it('follows the loader: FERRY_NO_NATIVE=1 or a failed load means the twin', () => {
    expect(chooseNative({ FERRY_NO_NATIVE: '1' }, () => nativeHash ?? twinHash, twinHash)).toEqual({ impl: twinHash, kind: 'twin', fallbackReason: 'FERRY_NO_NATIVE=1' });
    const failed = chooseNative({}, () => { throw new Error('not built'); }, twinHash);
    expect([failed.kind, failed.fallbackReason]).toEqual(['twin', 'not built']);
    const expected = process.env.FERRY_NO_NATIVE === '1' || nativeReason !== undefined ? 'twin' : 'native';
    expect(fastHashKind).toBe(expected);
    expect(fastHash.kind).toBe(expected);
    expect(fastHashFallbackReason === undefined).toBe(expected === 'native');
  });
});

describe.runIf(nativeReason === undefined)('native hash handles', () => {
  it('refuses anything but an XXH3-128 handle, and input that is not a Uint8Array, with EINVAL', () => {
    const n = nativeExports<{ xxh3Create(): object; xxh3Update(h: object, d: Uint8Array): void; xxh3Digest(h: object): Buffer }>(['xxh3Create', 'xxh3Update', 'xxh3Digest']);
    const x = n.xxh3Create();
    const notHandles = [{}, null, 7, new Uint8Array(16)] as unknown as object[];
    for (const call of [
      ...notHandles.map((v) => () => n.xxh3Update(v, new Uint8Array(1))),
      ...notHandles.map((v) => () => n.xxh3Digest(v)),
      () => n.xxh3Update(x, new Uint16Array(1) as unknown as Uint8Array),
    ]) {
      expect(call).toThrow(expect.objectContaining({ errno: -22 }) as Error);
    }
  });

  it('hashes in several worker threads at once, each with its own handles', async () => {
    const { Worker } = await import('node:worker_threads');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const n = require(workerData.addon);
      const data = Buffer.alloc(3 << 20, 7);
      const out = [];
      for (let i = 0; i < 5; i++) {
        const x = n.xxh3Create();
        for (let at = 0; at < data.length; at += 65536) n.xxh3Update(x, data.subarray(at, at + 65536));
        out.push(n.xxh3Digest(x).toString('hex'));
      }
      parentPort.postMessage([...new Set(out)]);
    `;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { addon: addonPath() } });
        w.once('message', resolve);
        w.once('error', reject);
      })),
    );
    const data = Buffer.alloc(3 << 20, 7);
    const x = await twinHash.xxh128();
    x.update(data);
    const expected = [x.digest().toString('hex')];
    expect(results).toEqual([expected, expected, expected, expected]);
  });
});
