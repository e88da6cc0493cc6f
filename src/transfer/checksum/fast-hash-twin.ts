import { Buffer } from 'node:buffer';
import type { IHasher } from 'hash-wasm';
import { FastHashError, guardedDigest, type Digest, type FastHash } from './fast-hash-contract.js';

/**
 * The TypeScript twin of native/src/hash.c, on hash-wasm (WebAssembly: each instance reserves
 * address space, so instances are made when first asked for, never ahead).
 */

/**
 * hash-wasm, loaded when a twin hash is first made: it carries every algorithm's WebAssembly
 * as text, a few MB of heap that an agent with the native addon (or one that never hashes)
 * would otherwise hold for nothing.
 */
let hashWasm: Promise<typeof import('hash-wasm')> | null = null;
const loadHashWasm = (): Promise<typeof import('hash-wasm')> => (hashWasm ??= import('hash-wasm'));

/**
 * A hash-wasm instance, or FastHashError ERR_HASH_NO_MEMORY. V8 reports a memory it cannot
 * reserve as a RangeError, which the agent treats as a programmer's mistake and crashes on; an
 * agent under an address-space limit (ulimit -v, LimitAS=) met it on the twin with xxh128 and
 * died with its sessions. Out of address space is a resource running out: the session fails
 * with this code and the agent stays up.
 */
async function instance(make: () => Promise<IHasher>): Promise<IHasher> {
  try {
    return await make();
  } catch (err) {
    if (err instanceof RangeError) throw new FastHashError('ERR_HASH_NO_MEMORY', `no memory for a WebAssembly hash instance: ${err.message}`);
    throw err;
  }
}

/**
 * This thread's one xxh128 instance, shared by all its digests. Every WebAssembly memory
 * reserves 10 GiB of address space (V8's guard regions), so under an address-space limit
 * (ulimit -v 40000000) only three fit in the whole process: one instance per digest (per small
 * file being hashed, per big-file stream) ran out. Shared, a process needs one per thread that
 * hashes (the main thread and each I/O worker).
 */
let xxh128Instance: Promise<IHasher> | null = null;

interface Tenant {
  /** Keep this digest's state aside: another digest takes the instance. */
  evict(): void;
}

/** Which digest's state each shared instance holds: the others keep theirs saved (save/load, a few hundred bytes). */
const residents = new WeakMap<IHasher, Tenant>();

/**
 * A digest on a shared instance: before each operation the instance is switched to this
 * digest's state if another one used it since (JavaScript runs one call at a time on a thread,
 * so a switch never lands in the middle of another digest's update).
 */
function sharedDigest(h: IHasher): Digest {
  let saved: Uint8Array | null = null; // null: a fresh hash (init when it next enters)
  const self: Tenant = {
    evict() {
      saved = h.save();
    },
  };
  const enter = (): void => {
    if (residents.get(h) === self) return;
    residents.get(h)?.evict();
    if (saved === null) h.init();
    else h.load(saved);
    residents.set(h, self);
  };
  return guardedDigest({
    update: (d) => {
      enter();
      h.update(d);
    },
    digest: () => {
      enter();
      const out = Buffer.from(h.digest('binary'));
      residents.delete(h); // the instance now holds a finished state, nobody's
      saved = null;
      return out;
    },
    reset: () => {
      if (residents.get(h) === self) residents.delete(h);
      saved = null;
    },
  });
}

export const twinFastHash: FastHash = {
  kind: 'twin',

  async xxh128() {
    xxh128Instance ??= instance(async () => (await loadHashWasm()).createXXHash128()).catch((err: unknown) => {
      xxh128Instance = null; // the next digest tries again (address space may have been freed)
      throw err;
    });
    return sharedDigest(await xxh128Instance);
  },
};
