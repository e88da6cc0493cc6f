import { nativeExports } from '../../fs/load.js';
import { MAC_BYTES, checkInput, checkKey, checkOutBytes, guardedDigest, type FastHash } from './fast-hash-contract.js';

/** What native/src/hash.c exports; arguments are checked on this side first. */
export interface NativeHashBinding {
  /** An opaque handle: an external whose type tag the C side checks on every call. */
  blake3Create(key: Uint8Array | null): object;
  blake3Update(handle: object, data: Uint8Array): void;
  blake3Digest(handle: object, outBytes: number): Buffer;
  blake3Mac(key: Uint8Array, ...parts: Uint8Array[]): Buffer;
  xxh3Create(): object;
  xxh3Update(handle: object, data: Uint8Array): void;
  xxh3Digest(handle: object): Buffer;
}

const NAMES = ['blake3Create', 'blake3Update', 'blake3Digest', 'blake3Mac', 'xxh3Create', 'xxh3Update', 'xxh3Digest'] as const;

/** blake3Mac's C side takes at most this many parts at once (MAX_MAC_PARTS in hash.c). */
const MAX_MAC_PARTS = 16;

export function createNativeFastHash(n: NativeHashBinding): FastHash {
  return {
    kind: 'native',

    async blake3(options = {}) {
      const given = options.key ?? null;
      const outBytes = options.outBytes ?? MAC_BYTES;
      if (given !== null) checkKey(given);
      checkOutBytes(outBytes);
      // A copy: reset() uses the key again, which must not have changed meanwhile.
      const key = given === null ? null : Uint8Array.from(given);
      let handle = n.blake3Create(key);
      return guardedDigest({
        update: (d) => n.blake3Update(handle, d),
        digest: () => n.blake3Digest(handle, outBytes),
        reset: () => {
          handle = n.blake3Create(key);
        },
      });
    },

    async keyedMac(key) {
      checkKey(key);
      // A copy: the tag must not change if the caller later reuses its key buffer.
      const own = Uint8Array.from(key);
      return {
        mac(...parts) {
          for (const p of parts) checkInput(p);
          if (parts.length <= MAX_MAC_PARTS) return n.blake3Mac(own, ...parts);
          const h = n.blake3Create(own);
          for (const p of parts) n.blake3Update(h, p);
          return n.blake3Digest(h, MAC_BYTES);
        },
      };
    },

    async xxh128() {
      let handle = n.xxh3Create();
      return guardedDigest({
        update: (d) => n.xxh3Update(handle, d),
        digest: () => n.xxh3Digest(handle),
        reset: () => {
          handle = n.xxh3Create();
        },
      });
    },
  };
}

/** The native FastHash, or a throw saying why it cannot be had. */
export function loadNativeFastHash(): FastHash {
  return createNativeFastHash(nativeExports<NativeHashBinding>(NAMES));
}
