import { mkdirSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { removeAll, runPair, tempDir } from './session-fixture.js';

// Regression: a commit group holding only zero-byte files carried no data buffer, so the
// worker tried to open partial files that were never created (ENOENT -> FILE_NOT_FOUND).
it('commits a group made only of zero-byte files, with and without verify', async () => {
  for (const verifyChecksum of [true, false]) {
    const base = await tempDir();
    const srcRoot = join(base, 'src');
    const dstRoot = join(base, 'dst');
    mkdirSync(join(srcRoot, 'empties'), { recursive: true });
    mkdirSync(dstRoot);
    for (let i = 0; i < 3; i++) writeFileSync(join(srcRoot, 'empties', `z${i}`), '');
    const r = await runPair({ srcRoot, dstRoot, items: [{ sourcePath: '/empties/', destinationPath: '/copy/', recursive: true }], options: { verifyChecksum } });
    expect(r.dst.status, String((r.dst as { reason?: unknown }).reason)).toBe('fulfilled');
    expect(readdirSync(join(dstRoot, 'copy')).sort()).toEqual(['z0', 'z1', 'z2']);
    expect(statSync(join(dstRoot, 'copy', 'z0')).size).toBe(0);
    await removeAll(base);
  }
});
