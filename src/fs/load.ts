import { createNativeRawFs, loadBinding, type NativeBinding } from './raw-native.js';
import type { RawFs } from './raw.js';
import { twinRawFs } from './raw-twin.js';

/**
 * The one loader of native/: which RawFs this process uses (the native addon unless
 * FERRY_NO_NATIVE=1 or it fails to load: not built, no compiler at install, stale ABI; then
 * the TypeScript twin), and the same rule for the addon's other parts, which have twins of
 * their own (fast hashes, aligned memory: chooseNative, nativeExports). Nothing is logged here
 * (a leaf module); the daemon can report `rawFsKind` and `rawFsFallbackReason`.
 */

export interface NativeChoice<T> {
  readonly impl: T;
  readonly kind: 'native' | 'twin';
  /** Why the twin is in use; undefined when the native addon is. */
  readonly fallbackReason: string | undefined;
}

/** The rule for every native part: the twin under FERRY_NO_NATIVE=1 or when loading throws. */
export function chooseNative<T extends { readonly kind: 'native' | 'twin' }>(
  env: Readonly<Record<string, string | undefined>>,
  tryLoad: () => T,
  twin: T,
): NativeChoice<T> {
  if (env.FERRY_NO_NATIVE === '1') return { impl: twin, kind: 'twin', fallbackReason: 'FERRY_NO_NATIVE=1' };
  try {
    const impl = tryLoad();
    return { impl, kind: impl.kind, fallbackReason: impl.kind === 'native' ? undefined : 'the loader returned the twin' };
  } catch (err) {
    return { impl: twin, kind: 'twin', fallbackReason: err instanceof Error ? err.message : String(err) };
  }
}

export interface RawFsChoice {
  readonly fs: RawFs;
  readonly kind: 'native' | 'twin';
  /** Why the twin is in use; undefined when the native addon is. */
  readonly fallbackReason: string | undefined;
}

/** The choice itself, pure so tests can drive it with any environment and loader. */
export function chooseRawFs(env: Readonly<Record<string, string | undefined>>, tryLoad: () => RawFs): RawFsChoice {
  const c = chooseNative(env, tryLoad, twinRawFs);
  return { fs: c.impl, kind: c.kind, fallbackReason: c.fallbackReason };
}

// The addon is loaded (and its ABI checked) once per thread, whichever part asks first.
let addonResult: { binding: NativeBinding } | { reason: string } | undefined;
let nativeResult: { fs: RawFs } | { reason: string } | undefined;

function tryAddon(): { binding: NativeBinding } | { reason: string } {
  if (addonResult === undefined) {
    try {
      addonResult = { binding: loadBinding() };
    } catch (err) {
      addonResult = { reason: err instanceof Error ? err.message : String(err) };
    }
  }
  return addonResult;
}

function tryNative(): { fs: RawFs } | { reason: string } {
  if (nativeResult === undefined) {
    const a = tryAddon();
    nativeResult = 'reason' in a ? a : { fs: createNativeRawFs(a.binding) };
  }
  return nativeResult;
}

/**
 * The addon's functions named in `names`, typed as `T` once each is checked to be a function:
 * for the parts of native/ beyond RawFs, each of which declares what it uses. Regardless of
 * FERRY_NO_NATIVE (apply it with chooseNative); throws with the reason when the addon cannot load.
 */
export function nativeExports<T extends object>(names: readonly (keyof T & string)[]): T {
  const a = tryAddon();
  if ('reason' in a) throw new Error(`native addon unavailable: ${a.reason}`);
  const binding = a.binding as unknown as Record<string, unknown>;
  const missing = names.filter((name) => typeof binding[name] !== 'function');
  if (missing.length > 0) throw new Error(`native addon lacks ${missing.join(', ')} (rebuild it)`);
  return binding as T;
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
