import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rawFs } from '../../../src/fs/index.js';
import { rawFsKind } from '../../../src/fs/load.js';
import { IoPool } from '../../../src/transfer/workers/io-pool.js';
import { syncfsCoverage } from '../../../src/transfer/workers/syncfs-trust.js';
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
      partial: join(sub, `.ferry-part-${tag}-${k}`), final: join(sub, `${tag}-${k}`), data, mode: 0o640, mtimeMs: 1_000_000 + k * 1000,
      // One file in each group arrives damaged: it must be reported, not placed.
      verify: 'sha256', expected: k === 5 ? 'f'.repeat(64) : sha(data),
    });
  }
  return { requests, bytes };
}

/** Whether a successful syncfs stands in for the fsyncs of files in `dir` (syncfs-trust.ts). */
function coveredBySyncfs(dir: string): boolean {
  const fd = rawFs.openRoot(dir);
  try {
    return syncfsCoverage(fd) !== null;
  } finally {
    rawFs.close(fd);
  }
}

async function commitTwoGroups(dir: string): Promise<void> {
  await mkdir(join(dir, 'even'));
  await mkdir(join(dir, 'odd'));
  const a = group(dir, 'a', 80);
  const b = group(dir, 'b', 90);
  const [ra, rb] = await Promise.all([commitByPath(pool, a.requests, true), commitByPath(pool, b.requests, true)]);
  // Where the group's syncfs stands in for the fsyncs, it covers every file prepared before it
  // (all but the damaged one, which never got that far); elsewhere every file has its own fsync.
  // (A syncfs slower than the worker's 1 s bound would also leave them to their own fsyncs: on
  // a test's few hundred kilobytes that means a file system already stalled.)
  const covered = coveredBySyncfs(dir);
  expect([ra.synced, rb.synced]).toEqual(covered ? [79, 89] : [0, 0]);
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
  const left = [...await readdir(join(dir, 'even')), ...await readdir(join(dir, 'odd'))].filter((n) => n.startsWith('.ferry-part-'));
  expect(left.sort()).toEqual(['.ferry-part-a-5', '.ferry-part-b-5']);
}

describe('durable commit of many small files', () => {
  it('places every intact file durably (two groups at once), reports the damaged one and leaves no other partial', async () => {
    const dir = await tempDir();
    try {
      await commitTwoGroups(dir);
    } finally {
      await removeAll(dir);
    }
  });

  // A chunked file's partial was written before the commit opened its directory: a write-back
  // error of it may predate what the group's syncfs reports, so it keeps its own fsync.
  it('counts only the files this commit wrote as covered by the syncfs; a partial written before keeps its fsync', async () => {
    const dir = await tempDir();
    try {
      await mkdir(join(dir, 'even'));
      await mkdir(join(dir, 'odd'));
      const a = group(dir, 'a', 80);
      const chunked = Buffer.from('written chunk by chunk before the commit');
      const partial = join(dir, 'even', '.ferry-part-chunked');
      await writeFile(partial, chunked);
      const st = await stat(partial, { bigint: true });
      const requests: PathCommitRequest[] = [...a.requests, {
        partial, final: join(dir, 'even', 'chunked'), identity: { dev: st.dev, ino: st.ino }, mode: 0o600, mtimeMs: 2_000_000, verify: 'sha256', expected: sha(chunked),
      }];
      const r = await commitByPath(pool, requests, true);
      expect(r.synced).toBe(coveredBySyncfs(dir) ? 79 : 0);
      expect(r.results[80]).toEqual({ ok: true });
      expect(await readFile(join(dir, 'even', 'chunked'))).toEqual(chunked);
    } finally {
      await removeAll(dir);
    }
  });

  // A failed syncfs (a write-back error somewhere on the file system) leaves every file of the
  // group to its own fsync, which names the file that failed: here the first one fsync'ed.
  it.runIf(rawFsKind === 'native')('fsyncs each file when the group\'s syncfs fails, and the failing file is named', async () => {
    const dir = await tempDir();
    const saved = process.env.FERRY_TEST_FAULTS;
    // The worker reads the rules when it starts (at the pool's first call): a pool of its own.
    const faulty = new IoPool(1);
    try {
      await mkdir(join(dir, 'even'));
      await mkdir(join(dir, 'odd'));
      const a = group(dir, 'a', 80);
      process.env.FERRY_TEST_FAULTS = 'syncfs:EIO,fsync:EIO:1';
      const committing = commitByPath(faulty, a.requests, true);
      if (saved === undefined) delete process.env.FERRY_TEST_FAULTS;
      else process.env.FERRY_TEST_FAULTS = saved;
      const r = await committing;
      expect(r.synced).toBe(0);
      expect(r.dirError).toBeNull();
      const failed = r.results.flatMap((x, k) => (x.errno === undefined ? [] : [[k, x.errno]]));
      expect(failed).toEqual([[0, 'EIO']]);
      expect(r.results.filter((x) => x.ok).length).toBe(78);
      expect(existsSync(a.requests[0]!.final)).toBe(false);
      expect(await readFile(a.requests[1]!.final)).toEqual(a.bytes[1]);
    } finally {
      await faulty.close();
      await removeAll(dir);
    }
  });

  // tmpfs: a syncfs there is not trusted to stand in for fsyncs, so each file gets its own.
  it.skipIf(!existsSync('/dev/shm'))('fsyncs each file where the syncfs does not stand in for them (tmpfs)', async () => {
    const dir = await mkdtemp('/dev/shm/ferry-commit-');
    try {
      expect(coveredBySyncfs(dir)).toBe(false);
      await commitTwoGroups(dir);
    } finally {
      await removeAll(dir);
    }
  });
});
