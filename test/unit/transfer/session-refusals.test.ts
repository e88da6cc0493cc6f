import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/common/errors.js';
import { ok, rejection, resolverFor, runPair } from './session-fixture.js';
import * as roots from './temp-roots.js';

/**
 * A destination path the agent's policy refuses (here: anything under `ro`, as a nested
 * read-only root would be): the session fails with PERMISSION_DENIED, or under
 * skip_source_errors skips it (and everything below a refused directory) and says so.
 */
describe('destination refusals', () => {
  function refusingResolver(dst: string): ReturnType<typeof resolverFor> {
    const base = resolverFor(dst);
    return {
      ...base,
      lexical(apiPath, intent) {
        if (intent === 'write' && /\/ro(\/|$)/.test(apiPath)) throw new FerryError('EndpointPermissionDenied', `Path not allowed (read-only root): ${apiPath}`);
        return base.lexical(apiPath, intent);
      },
    };
  }

  async function tree(src: string): Promise<void> {
    await mkdir(join(src, 'tree/ro/deeper'), { recursive: true });
    await writeFile(join(src, 'tree/ro/evil.txt'), 'evil');
    await writeFile(join(src, 'tree/ro/deeper/evil2.txt'), 'evil2');
    await writeFile(join(src, 'tree/fine.txt'), 'fine');
  }

  it('fails with PERMISSION_DENIED by default', async () => {
    const { src, dst } = roots;
    await tree(src);
    const r = await runPair({ srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/tree', destinationPath: '/tree', recursive: true }], dstResolver: refusingResolver(dst) });
    const err = rejection(r.dst);
    expect(err.code).toBe('Transfer.PermissionDenied');
    expect(await readdir(join(dst, 'tree'))).not.toContain('ro');
  });

  it('skips the refused directory and all below it under skip_source_errors, and finishes', async () => {
    const { src, dst } = roots;
    await tree(src);
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/tree', destinationPath: '/tree', recursive: true }],
      options: { skipSourceErrors: true }, dstResolver: refusingResolver(dst),
    });
    ok(r.dst);
    ok(r.src);
    expect((await readdir(join(dst, 'tree'))).sort()).toEqual(['fine.txt']);
    const skipped = r.dstRep.events.filter((e) => e.code === 'PERMISSION_DENIED');
    expect(skipped.map((e) => (JSON.parse(e.details) as { destination_path: string }).destination_path)).toEqual(['/tree/ro']);
  });
});
