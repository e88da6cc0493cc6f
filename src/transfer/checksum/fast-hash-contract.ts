/**
 * Fast hashes (native/src/hash.c, with a hash-wasm twin): BLAKE3, plain or keyed (the keyed
 * form is a MAC: a chunk sent in clear text carries one, keyed from TLS exported keying
 * material), and XXH3-128, the `xxh128` whole-file checksum. Two implementations share this interface:
 * fast-hash-native.ts and fast-hash-twin.ts; the conformance and differential suites in
 * test/unit/native-hash hold them to identical digests and identical errors.
 */

/** A BLAKE3 key is exactly this long. */
export const BLAKE3_KEY_BYTES = 32;
/** A MAC, and BLAKE3's default output. */
export const MAC_BYTES = 32;
/** The longest BLAKE3 output asked for (the addon's limit; the twin's is higher). */
export const MAX_DIGEST_BYTES = 1024;

export type FastHashErrorCode =
  /** A key that is not a Uint8Array of BLAKE3_KEY_BYTES. */
  | 'ERR_HASH_KEY'
  /** An output length that is not an integer in 1..MAX_DIGEST_BYTES. */
  | 'ERR_HASH_LENGTH'
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

/** A streaming hash. digest() finishes it; reset() starts it over with the same key. */
export interface Digest {
  update(data: Uint8Array): void;
  digest(): Buffer;
  /** For reusing one instance for hash after hash (one twin instance costs a WebAssembly instance). */
  reset(): void;
}

/** BLAKE3 in keyed mode with one fixed key: mac(...parts) is the tag of the parts' concatenation. */
export interface KeyedMac {
  mac(...parts: Uint8Array[]): Buffer;
}

export interface FastHash {
  readonly kind: 'native' | 'twin';
  /** A BLAKE3 hash: keyed when `key` is given, `outBytes` of output (MAC_BYTES by default). */
  blake3(options?: { key?: Uint8Array; outBytes?: number }): Promise<Digest>;
  /** A reusable keyed MAC; each mac() call is synchronous. */
  keyedMac(key: Uint8Array): Promise<KeyedMac>;
  /** XXH3-128; digest() is the canonical big-endian form (hex: what `xxh128` reports). */
  xxh128(): Promise<Digest>;
}

/** Both implementations check arguments here first, so a bad one fails the same way in both. */
export function checkKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== BLAKE3_KEY_BYTES) {
    throw new FastHashError('ERR_HASH_KEY', `a BLAKE3 key is a Uint8Array of ${BLAKE3_KEY_BYTES} bytes`);
  }
}

export function checkOutBytes(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_DIGEST_BYTES) {
    throw new FastHashError('ERR_HASH_LENGTH', `output length must be an integer in 1..${MAX_DIGEST_BYTES}`);
  }
}

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
