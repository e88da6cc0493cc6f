import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IoPool } from '../../../src/transfer/workers/io-pool.js';
import { removeAll, tempDir } from './session-fixture.js';
import { commitByPath, type PathCommitRequest } from './commit-by-path.js';

const pool = new IoPool(1);
afterAll(async () => {
  await pool.close();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A group big enough for the worker's write-back hint (syncfs before the per-file fsyncs). */
function group(dir: string, tag: string, n: number): { requests: PathCommitRequest[]; bytes: Buffer[] } {
  const bytes: Buffer[] = [];
  const requests: PathCommitRequest[] = [];
  for (let k = 0; k < n; k++) {
    const data = Buffer.from(`${tag} file ${k} `.repeat(k + 1));
    bytes.push(data);
    const sub = join(dir, k % 2 === 0 ? 'even' : 'odd');
    requests.push({
      partial: join(sub, `.part-${tag}-${k}`), final: join(sub, `${tag}-${k}`), data, mode: 0o640, mtimeMs: 1_000_000 + k * 1000,
      // One file in each group arrives damaged: it must be reported, not placed.
      verify: 'sha256', expected: k === 5 ? 'f'.repeat(64) : sha(data),
    });
  }
  return { requests, bytes };
}

describe('durable commit of many small files', () => {
  it('places every intact file durably (two groups at once), reports the damaged one and leaves no other partial', async () => {
    const dir = await tempDir();
    try {
      await mkdir(join(dir, 'even'));
      await mkdir(join(dir, 'odd'));
      const a = group(dir, 'a', 80);
      const b = group(dir, 'b', 90);
      const [ra, rb] = await Promise.all([commitByPath(pool, a.requests, true), commitByPath(pool, b.requests, true)]);
      for (const [g, r] of [[a, ra], [b, rb]] as const) {
        expect(r.dirError).toBeNull();
        for (let k = 0; k < g.requests.length; k++) {
          const req = g.requests[k]!;
          if (k === 5) {
            expect(r.results[k]).toEqual({ mismatch: sha(g.bytes[k]!) });
            continue;
          }
          expect(r.results[k]).toEqual({ ok: true });
          expect(await readFile(req.final)).toEqual(g.bytes[k]);
          const st = await stat(req.final);
          expect([st.mode & 0o777, st.mtimeMs]).toEqual([0o640, req.mtimeMs]);
        }
      }
      const left = [...await readdir(join(dir, 'even')), ...await readdir(join(dir, 'odd'))].filter((n) => n.startsWith('.part-'));
      expect(left.sort()).toEqual(['.part-a-5', '.part-b-5']);
    } finally {
      await removeAll(dir);
    }
  });
});
