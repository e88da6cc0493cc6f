import { loadNativeRawFs } from './raw-native.js';
import type { RawFs } from './raw.js';
import { twinRawFs } from './raw-twin.js';

/**
 * Which RawFs this process uses: the native addon unless FERRY_NO_NATIVE=1 or it fails to
 * load (not built, no compiler at install, stale ABI), then the TypeScript twin. Nothing is
 * logged here (a leaf module); the daemon can report `rawFsKind` and `rawFsFallbackReason`.
 */

export interface RawFsChoice {
  readonly fs: RawFs;
  readonly kind: 'native' | 'twin';
  /** Why the twin is in use; undefined when the native addon is. */
  readonly fallbackReason: string | undefined;
}

/** The choice itself, pure so tests can drive it with any environment and loader. */
export function chooseRawFs(env: Readonly<Record<string, string | undefined>>, tryLoad: () => RawFs): RawFsChoice {
  if (env.FERRY_NO_NATIVE === '1') return { fs: twinRawFs, kind: 'twin', fallbackReason: 'FERRY_NO_NATIVE=1' };
  try {
    const fs = tryLoad();
    return { fs, kind: fs.kind, fallbackReason: fs.kind === 'native' ? undefined : 'the loader returned the twin' };
  } catch (err) {
    return { fs: twinRawFs, kind: 'twin', fallbackReason: err instanceof Error ? err.message : String(err) };
  }
}

let nativeResult: { fs: RawFs } | { reason: string } | undefined;

function tryNative(): { fs: RawFs } | { reason: string } {
  if (nativeResult === undefined) {
    try {
      nativeResult = { fs: loadNativeRawFs() };
    } catch (err) {
      nativeResult = { reason: err instanceof Error ? err.message : String(err) };
    }
  }
  return nativeResult;
}

/** The native implementation regardless of FERRY_NO_NATIVE; throws with the reason if it cannot load. */
export function getNativeRawFs(): RawFs {
  const r = tryNative();
  if ('fs' in r) return r.fs;
  throw new Error(`native RawFs unavailable: ${r.reason}`);
}

/** Why the native implementation cannot load, or undefined when it can (for test skips). */
export function nativeRawFsUnavailableReason(): string | undefined {
  const r = tryNative();
  return 'reason' in r ? r.reason : undefined;
}

export function getTwinRawFs(): RawFs {
  return twinRawFs;
}

const choice = chooseRawFs(process.env, getNativeRawFs);

export const rawFs: RawFs = choice.fs;
export const rawFsKind: 'native' | 'twin' = choice.kind;
export const rawFsFallbackReason: string | undefined = choice.fallbackReason;
