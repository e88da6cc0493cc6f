import { chmodSync, mkdirSync, readdirSync, readFileSync, lstatSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { startTransferPair, tempDir, type TransferPair } from '../helpers/cluster.js';
import { partialFiles, submitTransfer, treeDigest, waitForTask } from '../helpers/tasks.js';

/** Every path below `dir` ('a/b' for files, 'a/' for directories), sorted. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      if (lstatSync(p).isDirectory()) {
        out.push(`${r}/`);
        walk(p, r);
      } else {
        out.push(r);
      }
    }
  };
  walk(dir, '');
  return out.sort();
}

function files(root: string, paths: Record<string, string>): void {
  for (const [rel, content] of Object.entries(paths)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

describe('transfer filter rules and directory metadata', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let pair: TransferPair;
  let client: ApiClient;

  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    pair = await startTransferPair(dir.path, 'fiona@example.org', srcRoot, dstRoot);
    client = pair.client;
  });
  afterAll(async () => {
    await pair?.stop();
    // The read-only directories must not stop the cleanup (even when not run as root).
    try { chmodSync(join(dstRoot, 'mtree-copy', 'readonly', 'inner'), 0o755); chmodSync(join(dstRoot, 'mtree-copy', 'readonly'), 0o755); } catch { /* not created */ }
    try { chmodSync(join(srcRoot, 'mtree', 'readonly', 'inner'), 0o755); chmodSync(join(srcRoot, 'mtree', 'readonly'), 0o755); } catch { /* not created */ }
    dir.cleanup();
  });

  const transfer = (body: Record<string, unknown>) => submitTransfer(client, { source_endpoint: pair.src.endpointId, destination_endpoint: pair.dst.endpointId, ...body });
  const rule = (method: 'include' | 'exclude', name: string, type?: 'file' | 'dir') => ({ DATA_TYPE: 'filter_rule', method, name, ...(type ? { type } : {}) });

  it('applies filter rules in order while recursing: types, globs, excluded subtrees', async () => {
    const tree = join(srcRoot, 'ftree');
    files(tree, {
      'keep.txt': 'k',
      'drop.tmp': 'd',
      'important.tmp': 'i',
      'build/a.o': 'a',
      'build/sub/b.o': 'b',
      'sub/build': 'a file named build',
      'sub/deep/keep2.txt': 'k2',
      'sub/deep/drop2.tmp': 'd2',
      'cache/c.txt': 'c',
      'sub/cache': 'a file named cache',
      'logs/app1.log': '1',
      'logs/app2.log': '2',
      'logs/appX.log': 'x',
      'logs/app10.log': '10',
      'data/a.csv': 'a',
      'data/b.csv': 'b',
      'data/v1.csv': 'v',
      'x.bin': 'x',
      'xy.bin': 'xy',
      'notes/inside.txt': 'n',
      'sub/notes': 'a file named notes',
      'scratch.tmp/in-excluded-dir.txt': 's',
    });
    mkdirSync(join(tree, 'emptydir'));
    const taskId = await transfer({
      filter_rules: [
        rule('include', 'important.tmp'),
        rule('exclude', '*.tmp'),
        rule('exclude', 'build', 'dir'),
        rule('exclude', 'cache'),
        rule('exclude', 'app[0-9].log'),
        rule('exclude', '[!v]*.csv'),
        rule('exclude', '?.bin'),
        rule('exclude', 'notes', 'file'),
        // The item's own directory is not subject to the rules.
        rule('exclude', 'ftree', 'dir'),
      ],
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/ftree/', destination_path: '/~/ftree-copy/', recursive: true }],
    });
    const task = await waitForTask(client, taskId);
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    const arrived = [
      'data/', 'data/v1.csv', 'emptydir/', 'important.tmp', 'keep.txt',
      'logs/', 'logs/app10.log', 'logs/appX.log', 'notes/', 'notes/inside.txt',
      'sub/', 'sub/build', 'sub/deep/', 'sub/deep/keep2.txt', 'xy.bin',
    ];
    expect(listTree(join(dstRoot, 'ftree-copy'))).toEqual(arrived.sort());
    expect(task).toMatchObject({ files: 9, files_transferred: 9 });
    expect(task['filter_rules']).toEqual(expect.arrayContaining([{ DATA_TYPE: 'filter_rule', method: 'exclude', name: 'build', type: 'dir' }]));
  });

  it('with delete_destination_extra, deletes extras but spares what the rules exclude', async () => {
    const tree = join(srcRoot, 'dtree');
    files(tree, { 'keep.txt': 'new keep', 'a.tmp': 'source a.tmp', 'sub/x.txt': 'x', 'cache/src-cache.txt': 'never sent' });
    const copy = join(dstRoot, 'dtree-copy');
    files(copy, {
      'keep.txt': 'old keep',
      'a.tmp': 'destination a.tmp',
      'local.tmp': 'local scratch',
      'cache/c.txt': 'destination cache',
      'stale/s.txt': 'stale',
      'extra.txt': 'extra',
      // A file named like the directory-only rule is not protected by it.
      'build': 'a file, the rule is for directories',
      'sub/extra-in-sub.txt': 'extra',
      'sub/keep.tmp': 'protected',
      'sub/build/o.o': 'a directory named build is protected',
    });
    const taskId = await transfer({
      delete_destination_extra: true,
      filter_rules: [rule('exclude', '*.tmp'), rule('exclude', 'cache'), rule('exclude', 'build', 'dir')],
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/dtree/', destination_path: '/~/dtree-copy/', recursive: true }],
    });
    const task = await waitForTask(client, taskId);
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    expect(listTree(copy)).toEqual(['a.tmp', 'cache/', 'cache/c.txt', 'keep.txt', 'local.tmp', 'sub/', 'sub/build/', 'sub/build/o.o', 'sub/keep.tmp', 'sub/x.txt'].sort());
    expect(readFileSync(join(copy, 'keep.txt'), 'utf8')).toBe('new keep');
    // Excluded on the source, so neither copied over nor deleted.
    expect(readFileSync(join(copy, 'a.tmp'), 'utf8')).toBe('destination a.tmp');
    expect(readFileSync(join(copy, 'cache', 'c.txt'), 'utf8')).toBe('destination cache');
  });

  it('rejects a malformed glob at submit with a 400 and a stable code', async () => {
    const submit = transfer({
      filter_rules: [rule('exclude', '*.tmp'), rule('include', 'data[0-9')],
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/ftree/', destination_path: '/~/never/', recursive: true }],
    });
    await expect(submit).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest.InvalidFilterRule', httpStatus: 400 });
    await expect(submit).rejects.toThrow(/filter_rules\[1\].*unterminated '\['/);
    const slash = transfer({ filter_rules: [rule('exclude', 'a/b')], DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/ftree/', destination_path: '/~/never/', recursive: true }] });
    await expect(slash).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest.InvalidFilterRule', httpStatus: 400 });
    expect(() => statSync(join(dstRoot, 'never'))).toThrow();
  });

  it('gives directories their source modes and, with preserve_timestamp, their mtimes (read-only ones too)', async () => {
    const tree = join(srcRoot, 'mtree');
    files(tree, {
      'top.txt': 't',
      'private/p.txt': 'p',
      'shared/s.txt': 's',
      'readonly/r.txt': 'r',
      'readonly/inner/deep.txt': 'd',
    });
    mkdirSync(join(tree, 'empty'));
    const modes: Record<string, number> = { '': 0o750, private: 0o700, shared: 0o750, readonly: 0o555, 'readonly/inner': 0o555, empty: 0o711 };
    const times: Record<string, string> = {
      '': '2019-01-01T00:00:01.000Z', private: '2019-02-02T00:00:02.000Z', shared: '2019-03-03T00:00:03.000Z',
      readonly: '2019-04-04T00:00:04.000Z', 'readonly/inner': '2019-05-05T00:00:05.250Z', empty: '2019-06-06T00:00:06.000Z',
    };
    // Deepest first, so setting a child's times does not move its parent's.
    for (const rel of Object.keys(modes).sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length)) {
      chmodSync(join(tree, rel), modes[rel]!);
      utimesSync(join(tree, rel), new Date(times[rel]!), new Date(times[rel]!));
    }
    // An existing destination directory with another mode gets the source's.
    const copy = join(dstRoot, 'mtree-copy');
    mkdirSync(join(copy, 'shared'), { recursive: true, mode: 0o777 });
    chmodSync(join(copy, 'shared'), 0o777);

    const check = () => {
      for (const rel of Object.keys(modes)) {
        const st = statSync(join(copy, rel));
        expect({ rel, mode: (st.mode & 0o7777).toString(8), mtime: st.mtime.toISOString() }).toEqual({ rel, mode: modes[rel]!.toString(8), mtime: times[rel] });
      }
    };
    const body = (extra: Record<string, unknown>) => ({
      preserve_timestamp: true,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/mtree', destination_path: '/~/mtree-copy', recursive: true }],
      ...extra,
    });
    const first = await waitForTask(client, await transfer(body({})));
    expect(first.status, JSON.stringify(first.fatal_error)).toBe('SUCCEEDED');
    expect(first.files_transferred).toBe(5);
    check();
    expect(readFileSync(join(copy, 'readonly', 'inner', 'deep.txt'), 'utf8')).toBe('d');
    expect(await treeDigest(copy)).toEqual(await treeDigest(tree));

    // Again into the now read-only directories, with one file changed on the source: it is
    // written into the 0555 directory and the directory's mode and mtime are put back after.
    chmodSync(join(copy, 'readonly', 'inner'), 0o755);
    writeFileSync(join(copy, 'readonly', 'inner', 'extra-not-on-source'), '');
    chmodSync(join(copy, 'readonly', 'inner'), 0o555);
    chmodSync(join(tree, 'readonly', 'inner'), 0o755);
    writeFileSync(join(tree, 'readonly', 'inner', 'deep.txt'), 'changed');
    chmodSync(join(tree, 'readonly', 'inner'), 0o555);
    utimesSync(join(tree, 'readonly', 'inner'), new Date(times['readonly/inner']!), new Date(times['readonly/inner']!));
    const second = await waitForTask(client, await transfer(body({ sync_level: 3, delete_destination_extra: true })));
    expect(second.status, JSON.stringify(second.fatal_error)).toBe('SUCCEEDED');
    expect(second).toMatchObject({ files_transferred: 1, files_skipped: 4 });
    expect(readFileSync(join(copy, 'readonly', 'inner', 'deep.txt'), 'utf8')).toBe('changed');
    check();
    expect(listTree(join(copy, 'readonly', 'inner'))).toEqual(['deep.txt']);
    expect(partialFiles(copy)).toEqual([]);
  });

  it('without preserve_timestamp, directories get their modes but keep the destination mtime', async () => {
    const tree = join(srcRoot, 'ntree');
    files(tree, { 'd/f.txt': 'f' });
    chmodSync(join(tree, 'd'), 0o701);
    utimesSync(join(tree, 'd'), new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
    const before = Date.now();
    const task = await waitForTask(client, await transfer({ DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/ntree', destination_path: '/~/ntree-copy', recursive: true }] }));
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    const st = statSync(join(dstRoot, 'ntree-copy', 'd'));
    expect((st.mode & 0o7777).toString(8)).toBe('701');
    expect(st.mtimeMs).toBeGreaterThanOrEqual(before - 1000);
  });
});
