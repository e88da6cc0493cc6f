/**
 * Fast hashes (native/src/hash.c, with a hash-wasm twin): XXH3-128, the `xxh128` whole-file
 * checksum. Two implementations share this interface: fast-hash-native.ts and
 * fast-hash-twin.ts; the conformance and differential suites in test/unit/native-hash hold
 * them to identical digests and identical errors.
 */

export type FastHashErrorCode =
  /** Input that is not a Uint8Array. */
  | 'ERR_HASH_INPUT'
  /** update() or digest() after digest(), without reset() in between. */
  | 'ERR_HASH_FINISHED'
  /** The twin could not make its WebAssembly instance (each reserves address space: an address-space limit runs out). */
  | 'ERR_HASH_NO_MEMORY';

export class FastHashError extends Error {
  constructor(readonly code: FastHashErrorCode, message: string) {
    super(message);
    this.name = 'FastHashError';
  }
}

/** A streaming hash. digest() finishes it; reset() starts it over. */
export interface Digest {
  update(data: Uint8Array): void;
  digest(): Buffer;
  /** For reusing one instance for hash after hash (one twin instance costs a WebAssembly instance). */
  reset(): void;
}

export interface FastHash {
  readonly kind: 'native' | 'twin';
  /** XXH3-128; digest() is the canonical big-endian form (hex: what `xxh128` reports). */
  xxh128(): Promise<Digest>;
}

/** Both implementations check input here first, so a bad one fails the same way in both. */
export function checkInput(data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) throw new FastHashError('ERR_HASH_INPUT', 'hash input must be a Uint8Array');
}

/**
 * The shared half of a Digest: argument checks and the finished state, so that the two
 * implementations agree on misuse too (hash-wasm refuses an update after digest; the C code
 * would carry on).
 */
export function guardedDigest(raw: { update(data: Uint8Array): void; digest(): Buffer; reset(): void }): Digest {
  let finished = false;
  const live = (): void => {
    if (finished) throw new FastHashError('ERR_HASH_FINISHED', 'hash already digested; reset() first');
  };
  return {
    update(data) {
      live();
      checkInput(data);
      raw.update(data);
    },
    digest() {
      live();
      finished = true;
      return raw.digest();
    },
    reset() {
      raw.reset();
      finished = false;
    },
  };
}
