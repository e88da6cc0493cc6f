import { nativeExports } from '../../fs/load.js';
import { guardedDigest, type FastHash } from './fast-hash-contract.js';

/** What native/src/hash.c exports; arguments are checked on this side first. */
export interface NativeHashBinding {
  /** An opaque handle: an external whose type tag the C side checks on every call. */
  xxh3Create(): object;
  xxh3Update(handle: object, data: Uint8Array): void;
  xxh3Digest(handle: object): Buffer;
}

/** The exports NativeHashBinding names, for nativeExports. */
export const NATIVE_HASH_NAMES = ['xxh3Create', 'xxh3Update', 'xxh3Digest'] as const;

export function createNativeFastHash(n: NativeHashBinding): FastHash {
  return {
    kind: 'native',

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
  return createNativeFastHash(nativeExports<NativeHashBinding>(NATIVE_HASH_NAMES));
}
