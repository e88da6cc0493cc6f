import { chooseNative, type NativeChoice } from '../../fs/load.js';
import type { FastHash } from './fast-hash-contract.js';
import { loadNativeFastHash } from './fast-hash-native.js';
import { twinFastHash } from './fast-hash-twin.js';

export { FastHashError, type Digest, type FastHash, type FastHashErrorCode } from './fast-hash-contract.js';

/**
 * Which FastHash this thread uses: native unless FERRY_NO_NATIVE=1 or the addon cannot load
 * (src/fs/load.ts's rule), else the hash-wasm twin. Both give identical digests.
 */

let nativeResult: { impl: FastHash } | { reason: string } | undefined;

function tryNative(): { impl: FastHash } | { reason: string } {
  if (nativeResult === undefined) {
    try {
      nativeResult = { impl: loadNativeFastHash() };
    } catch (err) {
      nativeResult = { reason: err instanceof Error ? err.message : String(err) };
    }
  }
  return nativeResult;
}

/** The native implementation regardless of FERRY_NO_NATIVE; throws with the reason if it cannot load. */
export function getNativeFastHash(): FastHash {
  const r = tryNative();
  if ('impl' in r) return r.impl;
  throw new Error(`native FastHash unavailable: ${r.reason}`);
}

/** Why the native implementation cannot load, or undefined when it can (for test skips). */
export function nativeFastHashUnavailableReason(): string | undefined {
  const r = tryNative();
  return 'reason' in r ? r.reason : undefined;
}

export function getTwinFastHash(): FastHash {
  return twinFastHash;
}

const choice: NativeChoice<FastHash> = chooseNative(process.env, getNativeFastHash, twinFastHash);

export const fastHash: FastHash = choice.impl;
export const fastHashKind: 'native' | 'twin' = choice.kind;
export const fastHashFallbackReason: string | undefined = choice.fallbackReason;
