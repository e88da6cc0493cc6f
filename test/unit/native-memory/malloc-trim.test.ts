import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addonPath } from '../../../src/fs/raw-native.js';
import { chooseMallocTrim, nativeMallocTrim, twinMallocTrim } from '../../../src/fs/malloc-trim.js';

let nativeReason: string | undefined;
try {
  nativeMallocTrim();
} catch (err) {
  nativeReason = (err as Error).message;
  console.warn(`malloc trim: native rows skipped: ${nativeReason}`);
}

describe('malloc trim', () => {
  it('is the twin under FERRY_NO_NATIVE=1, which has nothing to give back', () => {
    const c = chooseMallocTrim({ FERRY_NO_NATIVE: '1' });
    expect(c.kind).toBe('twin');
    expect(c.impl).toBe(twinMallocTrim);
    expect(c.impl.trim()).toBe(false);
  });

  it('is native otherwise, where the addon is built', (ctx) => {
    if (nativeReason !== undefined) ctx.skip(`native addon not built: ${nativeReason}`);
    const c = chooseMallocTrim({});
    expect(c.kind).toBe('native');
    expect(typeof c.impl.trim()).toBe('boolean');
  });

  it('gives back free heap pages that freeing alone leaves resident', (ctx) => {
    if (nativeReason !== undefined) ctx.skip(`native addon not built: ${nativeReason}`);
    // In a child, so that nothing else moves its RSS. 3,000 Buffers of 32 KiB (below the mmap
    // threshold, so from malloc's heap), every page written; all but the last are let go and
    // collected. The last one sits at the heap's top, so glibc's own trimming on free (from the
    // top only) cannot return the ~94 MiB below it: malloc_trim(0) must.
    const code = `
      const n = require(${JSON.stringify(addonPath())});
      const rss = () => Number(require('node:fs').readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
      let bufs = Array.from({ length: 3000 }, () => Buffer.alloc(32 * 1024, 1));
      const last = bufs[bufs.length - 1];
      bufs = null;
      // V8 frees dead ArrayBuffers' memory on a background thread after a full collection and
      // finishes that at the start of the next one: two collections, and all of it is back in malloc.
      globalThis.gc();
      globalThis.gc();
      const before = rss();
      const trimmed = n.mallocTrim();
      const after = rss();
      process.stdout.write(JSON.stringify({ trimmed, fell: before - after, kept: last.length }));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', code], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { trimmed, fell, kept } = JSON.parse(r.stdout) as { trimmed: boolean; fell: number; kept: number };
    expect(kept).toBe(32 * 1024);
    expect(trimmed).toBe(true);
    // About 90 MiB here (141 -> 47 MB); half of it is the bar.
    expect(fell).toBeGreaterThan(45 * 1024 * 1024);
  });
});
