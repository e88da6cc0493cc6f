import { chooseNative, nativeExports, type NativeChoice } from './load.js';

/**
 * Gives the malloc heap's free pages back to the system (glibc's malloc_trim(0), from
 * native/src/malloc-heap.c). Memory Node allocates outside V8's heap (OpenSSL's records, socket
 * read buffers, small Buffers) returns to malloc when freed but stays resident where it sits
 * below live data or in a thread's arena; only this call releases it. JavaScript cannot reach
 * malloc, so the twin (FERRY_NO_NATIVE=1, or no addon) does nothing and says so (false).
 */
export interface MallocTrim {
  readonly kind: 'native' | 'twin';
  /** True if any memory went back to the system. */
  trim(): boolean;
}

interface NativeMallocBinding {
  mallocTrim(): boolean;
}

export const twinMallocTrim: MallocTrim = { kind: 'twin', trim: () => false };

/** The addon's trim regardless of FERRY_NO_NATIVE; throws with the reason if it cannot load. */
export function nativeMallocTrim(): MallocTrim {
  const n = nativeExports<NativeMallocBinding>(['mallocTrim']);
  return { kind: 'native', trim: () => n.mallocTrim() };
}

/** This process's choice, under src/fs/load.ts's rule. */
export function chooseMallocTrim(env: Readonly<Record<string, string | undefined>> = process.env): NativeChoice<MallocTrim> {
  return chooseNative(env, nativeMallocTrim, twinMallocTrim);
}
