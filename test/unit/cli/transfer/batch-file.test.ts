import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchLineError, MAX_BATCH_ITEMS, parseBatch, readBatchText, resolveBatchPath, splitWords } from '../../../../src/cli/batch-file.js';
import { FerryError } from '../../../../src/common/errors.js';

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('splitWords', () => {
  it('splits on blanks and honours quotes and backslashes like a shell', () => {
    expect(splitWords('  /a/b   /c/d  ')).toEqual(['/a/b', '/c/d']);
    expect(splitWords(`'/my data/x' "/their data/y"`)).toEqual(['/my data/x', '/their data/y']);
    expect(splitWords('/a\\ b /c')).toEqual(['/a b', '/c']);
    expect(splitWords(`"/say \\"hi\\"" '/it''s'`)).toEqual(['/say "hi"', '/its']);
    // In double quotes a backslash before an ordinary character stays.
    expect(splitWords('"/a\\b"')).toEqual(['/a\\b']);
    expect(splitWords(`/x/'quoted part'/y /z`)).toEqual(['/x/quoted part/y', '/z']);
    expect(splitWords("''")).toEqual(['']);
  });

  it('treats # as a comment only where a word starts', () => {
    expect(splitWords('# whole line')).toEqual([]);
    expect(splitWords('/a /b # trailing note')).toEqual(['/a', '/b']);
    expect(splitWords('/run#1 /out#1')).toEqual(['/run#1', '/out#1']);
    expect(splitWords("'#not a comment' /b")).toEqual(['#not a comment', '/b']);
  });

  it('rejects unclosed quotes and a trailing backslash', () => {
    expect(failure(() => splitWords("'/a /b"))).toBeInstanceOf(BatchLineError);
    expect(failure(() => splitWords('"/a /b')).message).toContain('double quote');
    expect(failure(() => splitWords('/a /b\\')).message).toContain('backslash');
  });
});

describe('resolveBatchPath', () => {
  it('keeps absolute paths and joins relative ones to the base or /~/', () => {
    expect(resolveBatchPath('/data/x', '/base/')).toBe('/data/x');
    expect(resolveBatchPath('x/y', '/base/')).toBe('/base/x/y');
    expect(resolveBatchPath('x', '/base')).toBe('/base/x');
    expect(resolveBatchPath('x', undefined)).toBe('/~/x');
    expect(resolveBatchPath('~/x', '/base/')).toBe('/~/x');
    expect(resolveBatchPath('~', undefined)).toBe('/~/');
  });
});

describe('parseBatch', () => {
  it('reads items, comments, blank lines and per-line recursion in either position', () => {
    const text = [
      '# files',
      '/share/a.txt ~/a.txt',
      '',
      '  /share/dir /~/dir --recursive',
      '-r "/share/my dir" "/~/my dir"',
      "--no-recursive '/share/b c.txt' /~/b.txt  # a note",
      '-- -odd-name /~/odd',
    ].join('\n');
    expect(parseBatch(text)).toEqual([
      { sourcePath: '/share/a.txt', destinationPath: '/~/a.txt', recursive: undefined, line: 2 },
      { sourcePath: '/share/dir', destinationPath: '/~/dir', recursive: true, line: 4 },
      { sourcePath: '/share/my dir', destinationPath: '/~/my dir', recursive: true, line: 5 },
      { sourcePath: '/share/b c.txt', destinationPath: '/~/b.txt', recursive: false, line: 6 },
      { sourcePath: '/~/-odd-name', destinationPath: '/~/odd', recursive: undefined, line: 7 },
    ]);
  });

  it('joins relative paths to the command-line bases', () => {
    expect(parseBatch('godata/file1.txt myfile1.txt\n', { source: '/share/', destination: '/~/in' })).toEqual([
      { sourcePath: '/share/godata/file1.txt', destinationPath: '/~/in/myfile1.txt', recursive: undefined, line: 1 },
    ]);
  });

  it('accepts CRLF line ends and a byte-order mark', () => {
    expect(parseBatch('\uFEFF/a /b\r\n/c /d\r\n').map((i) => [i.sourcePath, i.destinationPath, i.line])).toEqual([['/a', '/b', 1], ['/c', '/d', 2]]);
  });

  it('reports every bad line with its number', () => {
    const text = [
      '/ok /ok',
      '/only-one',
      '/a /b /c',
      '/a /b --recrusive',
      "'/open /b",
      '/a /b -r --no-recursive',
      '/a\0x /b',
    ].join('\n');
    const err = failure(() => parseBatch(text, {}, 'files.txt'));
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('ClientError.BadRequest');
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('files.txt has 6 bad lines:');
    expect(lines[1]).toBe('files.txt:2: expected SOURCE_PATH DEST_PATH, found 1 path');
    expect(lines[2]).toBe('files.txt:3: expected SOURCE_PATH DEST_PATH, found 3 paths (quote paths that contain spaces)');
    expect(lines[3]).toMatch(/^files\.txt:4: unknown option '--recrusive'/);
    expect(lines[4]).toBe('files.txt:5: a single quote is not closed');
    expect(lines[5]).toBe('files.txt:6: --recursive and --no-recursive contradict each other');
    expect(lines[6]).toBe('files.txt:7: the path contains a NUL byte');
  });

  it('caps the number of reported lines', () => {
    const text = Array.from({ length: 25 }, () => '/lonely').join('\n');
    const err = failure(() => parseBatch(text));
    expect(err.message).toContain('has 25 bad lines');
    expect(err.message).toContain('batch:10:');
    expect(err.message).not.toContain('batch:11:');
    expect(err.message).toContain('(and 15 more bad lines)');
  });

  it('refuses a batch with nothing in it, or too much', () => {
    expect(failure(() => parseBatch('# nothing\n\n')).message).toContain('names nothing to transfer');
    const huge = '/a /b\n'.repeat(MAX_BATCH_ITEMS + 1);
    expect(failure(() => parseBatch(huge)).message).toContain(`at most ${MAX_BATCH_ITEMS}`);
  });
});

describe('readBatchText', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-batch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, or standard input for -', async () => {
    const file = join(dir, 'b.txt');
    writeFileSync(file, '/a /b\n');
    expect(await readBatchText(file, Readable.from([]))).toBe('/a /b\n');
    expect(await readBatchText('-', Readable.from([Buffer.from('/c '), Buffer.from('/d\n')]))).toBe('/c /d\n');
  });

  it('names the file it cannot read', async () => {
    const missing = join(dir, 'nope.txt');
    await expect(readBatchText(missing, Readable.from([]))).rejects.toThrow(`cannot read the batch file ${missing} (ENOENT)`);
    await expect(readBatchText(dir, Readable.from([]))).rejects.toThrow('(EISDIR)');
  });
});
