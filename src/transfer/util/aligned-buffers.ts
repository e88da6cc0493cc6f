/**
 * Page-aligned buffers for direct I/O (O_DIRECT), which needs the memory address, the file
 * offset and the length to be multiples of the device's block size. Node gives no way to ask
 * for alignment or to learn a Buffer's address, and its allocations are only 16-byte aligned.
 *
 * Two ways to get one, like every part of native/:
 * - native: the addon's allocAligned (an anonymous mmap, handed to V8 as an external ArrayBuffer
 *   that frees it when collected). This module sits below fs/ in the layers and cannot load
 *   the addon, so the layer that can hands the allocator in (useNativeAlignedMemory, from
 *   transfer/checksum/aligned-memory.ts).
 * - twin, and the fallback where the addon is absent: the memory of one small
 *   WebAssembly.Memory, which V8 always maps on its own page boundary (mmap, whole pages), and
 *   which the garbage collector frees like any Buffer. Cost: V8 reserves (not commits) guard
 *   address space around each memory, 10 GiB of virtual addresses per buffer; only the pages
 *   written count toward RSS. Under an address-space limit (`ulimit -v`, systemd LimitAS=) the
 *   reservation fails, and allocPreferAligned falls back to ordinary buffers, which just never
 *   go the direct way.
 */

import { readFileSync } from 'node:fs';

/** Every offset, length and address of a direct write or read is a multiple of this. */
export const DIRECT_IO_ALIGN = 4096;

/** `size` bytes (zero) starting on a DIRECT_IO_ALIGN boundary; throws when none can be had. */
export type AlignedAllocator = (size: number) => ArrayBuffer;

// Node has WebAssembly; TypeScript declares it only with the DOM library, which we leave out.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer } };

const WASM_PAGE = 64 * 1024;

/** The twin: a WebAssembly.Memory's buffer. Throws RangeError when V8 cannot reserve the address space. */
export const wasmAlignedAllocator: AlignedAllocator = (size) => {
  const pages = Math.max(1, Math.ceil(size / WASM_PAGE));
  return new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
};

let nativeAllocator: AlignedAllocator | undefined;

/** Use the addon's allocator in this thread from now on (undefined: back to the twin). */
export function useNativeAlignedMemory(alloc: AlignedAllocator | undefined): void {
  nativeAllocator = alloc;
}

/** Which allocator allocAligned uses in this thread. */
export function alignedMemoryKind(): 'native' | 'twin' {
  return nativeAllocator === undefined ? 'twin' : 'native';
}

/** The ArrayBuffers that start on a page boundary (those made here). */
const alignedArrays = new WeakSet<ArrayBufferLike>();

/** A buffer of `size` bytes whose first byte is page-aligned (contents zero). Throws when no aligned memory can be had (the twin: RangeError, e.g. under a low `ulimit -v`). */
export function allocAligned(size: number): Buffer {
  const array = (nativeAllocator ?? wasmAlignedAllocator)(size);
  alignedArrays.add(array);
  return Buffer.from(array, 0, size);
}

/** After a failed reservation, ordinary buffers for this long: each failed attempt costs V8 about 0.1 s of garbage collection first. */
const RETRY_ALIGNED_AFTER_MS = 60_000;
let alignedFailedAt = -Infinity;

/**
 * An aligned buffer, or null where none is to be had: the twin under an address-space limit
 * (addressSpaceLimited), or a reservation that failed less than a minute ago.
 */
export function tryAllocAligned(size: number, now = Date.now()): Buffer | null {
  if (nativeAllocator === undefined && addressSpaceLimited()) return null;
  if (now - alignedFailedAt < RETRY_ALIGNED_AFTER_MS) return null;
  try {
    return allocAligned(size);
  } catch {
    alignedFailedAt = now;
    return null;
  }
}

/**
 * An aligned buffer when one can be had, else an ordinary one (which simply never goes the
 * direct way: isDirectIoAligned says no). An address-space limit thus costs speed, not transfers.
 */
export function allocPreferAligned(size: number, now = Date.now()): Buffer {
  return tryAllocAligned(size, now) ?? Buffer.allocUnsafe(size);
}

let limited: boolean | undefined;

/**
 * Whether this process runs under an address-space limit (RLIMIT_AS: `ulimit -v`, systemd's
 * LimitAS=). There only a few WebAssembly memories fit in the whole process (three under 40 GB),
 * and the twin's xxh128 needs one per hashing thread: the twin then leaves them to the hashes
 * and never makes aligned buffers (speed, not transfers). Read once; Linux only, elsewhere no.
 */
export function addressSpaceLimited(): boolean {
  if (limited === undefined) {
    try {
      const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max address space'));
      limited = line !== undefined && !/^Max address space\s+unlimited\b/.test(line);
    } catch {
      limited = false;
    }
  }
  return limited;
}

/** Whether `buf` starts at an address that is a multiple of DIRECT_IO_ALIGN (only buffers from allocAligned count). */
export function isDirectIoAligned(buf: Uint8Array): boolean {
  return alignedArrays.has(buf.buffer) && buf.byteOffset % DIRECT_IO_ALIGN === 0;
}
