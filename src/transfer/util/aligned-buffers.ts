/**
 * Page-aligned buffers for direct I/O (O_DIRECT), which needs the memory address, the file
 * offset and the length to be multiples of the device's block size. Node gives no way to ask
 * for alignment or to learn a Buffer's address, and its allocations are only 16-byte aligned;
 * a WebAssembly.Memory, however, is always mapped on its own page boundary (V8 maps it with
 * mmap, whole pages). So each aligned buffer is the memory of one small WebAssembly.Memory,
 * freed by the garbage collector like any Buffer once nothing refers to it.
 *
 * Cost: V8 reserves (not commits) guard address space around each memory, 10 GiB of virtual
 * addresses per buffer; only the pages written count toward RSS. An agent holds a few dozen at
 * a time (the frame pool's idle ones and those in flight); under an address-space limit
 * (`ulimit -v`, systemd LimitAS=) the reservation fails, and allocPreferAligned falls back to
 * ordinary buffers, which just never go the direct way.
 */

/** Every offset, length and address of a direct write or read is a multiple of this. */
export const DIRECT_IO_ALIGN = 4096;

// Node has WebAssembly; TypeScript declares it only with the DOM library, which we leave out.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer } };

const WASM_PAGE = 64 * 1024;
/** The ArrayBuffers that start on a page boundary (those of the memories made here). */
const alignedArrays = new WeakSet<ArrayBufferLike>();

/** A buffer of `size` bytes whose first byte is page-aligned (contents zero). Throws RangeError when V8 cannot reserve the address space (e.g. under a low `ulimit -v`). */
export function allocAligned(size: number): Buffer {
  const pages = Math.max(1, Math.ceil(size / WASM_PAGE));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  alignedArrays.add(memory.buffer);
  return Buffer.from(memory.buffer, 0, size);
}

/** After a failed reservation, ordinary buffers for this long: each failed attempt costs V8 about 0.1 s of garbage collection first. */
const RETRY_ALIGNED_AFTER_MS = 60_000;
let alignedFailedAt = -Infinity;

/**
 * An aligned buffer when one can be had, else an ordinary one (which simply never goes the
 * direct way: isDirectIoAligned says no). An address-space limit thus costs speed, not transfers.
 */
export function allocPreferAligned(size: number, now = Date.now()): Buffer {
  if (now - alignedFailedAt >= RETRY_ALIGNED_AFTER_MS) {
    try {
      return allocAligned(size);
    } catch {
      alignedFailedAt = now;
    }
  }
  return Buffer.allocUnsafe(size);
}

/** Whether `buf` starts at an address that is a multiple of DIRECT_IO_ALIGN. */
export function isDirectIoAligned(buf: Uint8Array): boolean {
  return alignedArrays.has(buf.buffer) && buf.byteOffset % DIRECT_IO_ALIGN === 0;
}
