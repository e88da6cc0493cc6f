import { chooseNative, nativeExports } from '../../fs/load.js';
import { useNativeAlignedMemory, type AlignedAllocator } from '../util/aligned-buffers.js';

/**
 * Hands native/src/aligned.c's allocator to util/aligned-buffers.ts, which the layers keep
 * from loading the addon itself. Each thread that allocates aligned buffers runs this once
 * (checksum/index.ts on the main thread, workers/hashing.ts on the I/O workers), under
 * src/fs/load.ts's rule: the WebAssembly twin under FERRY_NO_NATIVE=1 or without the addon.
 */

interface NativeMemoryBinding {
  allocAligned(size: number): ArrayBuffer;
}

interface AllocatorChoice {
  readonly kind: 'native' | 'twin';
  readonly alloc: AlignedAllocator | undefined;
}

const TWIN: AllocatorChoice = { kind: 'twin', alloc: undefined };

/** The addon's allocator regardless of FERRY_NO_NATIVE; throws with the reason if it cannot load. */
export function nativeAlignedAllocator(): AlignedAllocator {
  const n = nativeExports<NativeMemoryBinding>(['allocAligned']);
  return (size) => n.allocAligned(size);
}

let installed: { kind: 'native' | 'twin'; fallbackReason: string | undefined } | undefined;

/** Choose and install this thread's allocator (once); says which, and why the twin if it is. */
export function installAlignedMemory(env: Readonly<Record<string, string | undefined>> = process.env): { kind: 'native' | 'twin'; fallbackReason: string | undefined } {
  if (installed === undefined) {
    const c = chooseNative<AllocatorChoice>(env, () => ({ kind: 'native', alloc: nativeAlignedAllocator() }), TWIN);
    useNativeAlignedMemory(c.impl.alloc);
    installed = { kind: c.kind, fallbackReason: c.fallbackReason };
  }
  return installed;
}
