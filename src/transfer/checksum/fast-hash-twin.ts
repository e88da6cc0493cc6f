import { Buffer } from 'node:buffer';
import { createBLAKE3, createXXHash128, type IHasher } from 'hash-wasm';
import { FastHashError, MAC_BYTES, checkInput, checkKey, checkOutBytes, guardedDigest, type Digest, type FastHash } from './fast-hash-contract.js';

/**
 * The TypeScript twin of native/src/hash.c, on hash-wasm (WebAssembly, one instance per
 * hash: each reserves address space, so instances are made when asked for, never ahead).
 */

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

function fromHasher(h: IHasher): Digest {
  h.init();
  return guardedDigest({
    update: (d) => {
      h.update(d);
    },
    digest: () => Buffer.from(h.digest('binary')),
    reset: () => {
      h.init();
    },
  });
}

export const twinFastHash: FastHash = {
  kind: 'twin',

  async blake3(options = {}) {
    const key = options.key ?? null;
    const outBytes = options.outBytes ?? MAC_BYTES;
    if (key !== null) checkKey(key);
    checkOutBytes(outBytes);
    // A copy: hash-wasm keeps the key array and reads it again on every init() (reset).
    return fromHasher(await instance(() => createBLAKE3(outBytes * 8, key === null ? undefined : Uint8Array.from(key))));
  },

  async keyedMac(key) {
    checkKey(key);
    const h = await instance(() => createBLAKE3(MAC_BYTES * 8, Uint8Array.from(key)));
    return {
      mac(...parts) {
        for (const p of parts) checkInput(p);
        h.init();
        for (const p of parts) h.update(p);
        return Buffer.from(h.digest('binary'));
      },
    };
  },

  async xxh128() {
    return fromHasher(await instance(() => createXXHash128()));
  },
};
