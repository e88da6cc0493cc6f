import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addonPath } from '../../../src/fs/raw-native.js';
import { installAlignedMemory, nativeAlignedAllocator } from '../../../src/transfer/checksum/aligned-memory.js';
import {
  DIRECT_IO_ALIGN,
  alignedMemoryKind,
  allocAligned,
  isDirectIoAligned,
  useNativeAlignedMemory,
  wasmAlignedAllocator,
  type AlignedAllocator,
} from '../../../src/transfer/util/aligned-buffers.js';

// One suite for both ways of getting page-aligned memory: the addon's allocAligned
// (an anonymous mmap) and its twin, a WebAssembly.Memory. The proof of alignment is the kernel's:
// an O_DIRECT write from the buffer succeeds where an unaligned one is refused.

let nativeReason: string | undefined;
let nativeAlloc: AlignedAllocator | undefined;
try {
  nativeAlloc = nativeAlignedAllocator();
} catch (err) {
  nativeReason = (err as Error).message;
  console.warn(`aligned memory: native row skipped: ${nativeReason}`);
}

const allocators: Array<[string, AlignedAllocator | undefined]> = [
  ['native', nativeAlloc],
  ['twin', wasmAlignedAllocator],
];

/** O_DIRECT-write `buf` to a new file in the temp dir; the error code, or null when it worked. */
function directWrite(dir: string, buf: Uint8Array): string | null {
  const path = join(dir, `direct-${Math.random().toString(36).slice(2)}`);
  let fd = -1;
  try {
    fd = fs.openSync(path, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_DIRECT, 0o600);
    fs.writeSync(fd, buf, 0, buf.length, 0);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'unknown';
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(path, { force: true });
  }
}

/** Whether the temp dir's file system enforces O_DIRECT alignment (tmpfs may refuse O_DIRECT, or ignore it). */
function directIoEnforced(dir: string): string | undefined {
  const misaligned = Buffer.allocUnsafeSlow(2 * DIRECT_IO_ALIGN).subarray(1, 1 + DIRECT_IO_ALIGN);
  const code = directWrite(dir, misaligned);
  if (code === 'EINVAL') return undefined;
  return code === null ? 'the temp dir accepts unaligned O_DIRECT writes' : `O_DIRECT refused in the temp dir (${code})`;
}

describe.each(allocators)('aligned memory: %s', (label, alloc) => {
  if (alloc === undefined) {
    it.skip(`native addon not built: ${nativeReason}`, () => undefined);
    return;
  }
  afterEach(() => useNativeAlignedMemory(undefined));
  const use = (): void => useNativeAlignedMemory(label === 'native' ? alloc : undefined);

  it('gives zeroed buffers of the size asked for, which count as aligned', () => {
    use();
    expect(alignedMemoryKind()).toBe(label);
    for (const size of [0, 1, 4095, 4096, 4097, 3 * 4096, 1024 * 1024 + 3]) {
      const buf = allocAligned(size);
      expect(buf.length).toBe(size);
      expect(buf.every((b) => b === 0)).toBe(true);
      expect(isDirectIoAligned(buf)).toBe(true);
      if (size >= 16) expect(isDirectIoAligned(buf.subarray(16))).toBe(false);
      if (size >= DIRECT_IO_ALIGN) expect(isDirectIoAligned(buf.subarray(DIRECT_IO_ALIGN))).toBe(true);
    }
    // Only buffers made here count, whatever their address.
    expect(isDirectIoAligned(Buffer.alloc(DIRECT_IO_ALIGN))).toBe(false);
  });

  it('starts on a block boundary: O_DIRECT writes from it, and reads into it, succeed', (ctx) => {
    const dir = fs.mkdtempSync(join(tmpdir(), `ferry-aligned-${label}-`));
    try {
      const why = directIoEnforced(dir);
      if (why !== undefined) ctx.skip(why);
      use();
      const data = allocAligned(3 * DIRECT_IO_ALIGN);
      randomFillSync(data);
      const path = join(dir, 'f');
      const fd = fs.openSync(path, fs.constants.O_CREAT | fs.constants.O_RDWR | fs.constants.O_DIRECT, 0o600);
      try {
        expect(fs.writeSync(fd, data, 0, data.length, 0)).toBe(data.length);
        const back = allocAligned(data.length);
        expect(fs.readSync(fd, back, 0, back.length, 0)).toBe(data.length);
        expect(back.equals(data)).toBe(true);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('aligned memory selection', () => {
  it('installs the addon\'s allocator unless FERRY_NO_NATIVE=1 or the addon cannot load', () => {
    const expected = process.env.FERRY_NO_NATIVE === '1' || nativeReason !== undefined ? 'twin' : 'native';
    const r = installAlignedMemory();
    expect(r.kind).toBe(expected);
    expect(alignedMemoryKind()).toBe(expected);
    useNativeAlignedMemory(undefined);
  });
});

describe('native aligned memory is freed', () => {
  if (nativeReason !== undefined) {
    it.skip(`native addon not built: ${nativeReason}`, () => undefined);
    return;
  }
  it('allocating and dropping 600 MiB, 1 MiB at a time, leaves the process about as big as it was', () => {
    // In a child with --expose-gc: each buffer is written (so its pages are resident) and
    // dropped; were the finalizer not to free it, the process would grow by 600 MiB. Node runs
    // the finalizers of external buffers from the event loop, hence the setImmediate turns.
    const code = `
      const n = require(${JSON.stringify(addonPath())});
      (async () => {
        global.gc();
        const before = process.memoryUsage().rss;
        let peak = before;
        for (let i = 0; i < 600; i++) {
          new Uint8Array(n.allocAligned(1 << 20)).fill(1);
          if (i % 20 === 19) {
            global.gc();
            await new Promise(setImmediate);
            peak = Math.max(peak, process.memoryUsage().rss);
          }
        }
        process.stdout.write(JSON.stringify({ growth: peak - before }));
      })();
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', code], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { growth } = JSON.parse(r.stdout) as { growth: number };
    expect(growth).toBeLessThan(150 * 1024 * 1024);
  });
});

describe('aligned memory costs only the pages written', () => {
  // A 4 MiB frame buffer that receives a 1 MiB batch must cost 1 MiB of RSS: zeroing it by hand
  // (memset) would make every page resident. In a child, so that nothing else moves its RSS:
  // 256 buffers of 1 MiB, one byte written in each, held while RSS is read.
  const rows: Array<[string, string | undefined]> = [
    ['native', nativeReason],
    ['twin', undefined],
  ];
  it.for(rows)('%s: 256 MiB allocated, 1 MiB written, grows the process by far less than 256 MiB', ([label, skipWhy], ctx) => {
    if (skipWhy !== undefined) ctx.skip(`native addon not built: ${skipWhy}`);
    const alloc = label === 'native'
      ? `const n = require(${JSON.stringify(addonPath())}); const alloc = (size) => n.allocAligned(size);`
      : `const alloc = (size) => new WebAssembly.Memory({ initial: size / 65536, maximum: size / 65536 }).buffer;`;
    const code = `
      ${alloc}
      const before = process.memoryUsage().rss;
      const held = [];
      for (let i = 0; i < 256; i++) {
        const b = new Uint8Array(alloc(1 << 20));
        b[4096 * (i % 256)] = 1;
        held.push(b);
      }
      const zero = held.every((b) => b[0] === 0 || b[0] === 1) && held[5][8191] === 0;
      process.stdout.write(JSON.stringify({ growth: process.memoryUsage().rss - before, zero, count: held.length }));
    `;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { growth, zero, count } = JSON.parse(r.stdout) as { growth: number; zero: boolean; count: number };
    expect(count).toBe(256);
    expect(zero).toBe(true);
    expect(growth).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('the twin under an address-space limit', () => {
  // Only a few WebAssembly memories fit under `ulimit -v` (10 GiB each): the twin leaves them to
  // the xxh128 instances and hands out ordinary buffers; without a limit it still aligns.
  const moduleUrl = new URL('../../../dist/transfer/util/aligned-buffers.js', import.meta.url).href;
  const code = `
    const m = await import(${JSON.stringify(moduleUrl)});
    const bufs = Array.from({ length: 8 }, () => m.allocPreferAligned(1 << 20));
    process.stdout.write(JSON.stringify({ limited: m.addressSpaceLimited(), aligned: bufs.filter((b) => m.isDirectIoAligned(b)).length, scratch: m.tryAllocAligned(4096) !== null }));
  `;
  const run = (limit: string): { limited: boolean; aligned: number; scratch: boolean } => {
    const r = spawnSync('bash', ['-c', `ulimit -v ${limit} && exec "$0" --input-type=module -e "$1"`, process.execPath, code], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { limited: boolean; aligned: number; scratch: boolean };
  };

  it('gives ordinary buffers under a limit, and aligned ones without', () => {
    expect(run('40000000')).toEqual({ limited: true, aligned: 0, scratch: false });
    expect(run('unlimited')).toEqual({ limited: false, aligned: 8, scratch: true });
  });
});
