import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/common/errors.js';
import type { FilterRule } from '../../../src/protocol/session.js';
import { compileFilterRules, compileGlob, globMatch } from '../../../src/transfer/session/filters.js';

const matches = (glob: string, name: string): boolean => {
  const g = compileGlob(glob);
  return g.literal !== null ? g.literal === name : globMatch(g.tokens!, name);
};

const codeOf = (fn: () => unknown): { code: string; message: string } => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return { code: (err as FerryError).code, message: (err as FerryError).message };
  }
  throw new Error('expected an error');
};

describe('filter globs', () => {
  it.each([
    ['*', 'anything', true],
    ['*', '.hidden', true],
    ['*', '', true],
    ['*.tmp', 'a.tmp', true],
    ['*.tmp', 'a.tmp.bak', false],
    ['*.tmp', 'atmp', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['**x', 'abx', true],
    ['?', 'a', true],
    ['?', 'ab', false],
    ['?', '', false],
    ['?', 'é', true],
    ['?', '😀', true],
    ['file?.txt', 'file1.txt', true],
    ['file?.txt', 'file10.txt', false],
    ['[abc]', 'b', true],
    ['[abc]', 'd', false],
    ['[a-c]x', 'bx', true],
    ['[a-c]x', 'dx', false],
    ['[!a-c]x', 'dx', true],
    ['[!a-c]x', 'ax', false],
    ['[]a]', ']', true],
    ['[]a]', 'a', true],
    ['[!]]', 'x', true],
    ['[!]]', ']', false],
    ['[a-]', '-', true],
    ['[-a]', '-', true],
    ['[^a]', '^', true],
    ['[^a]', 'b', false],
    ['[.]*', '.x', true],
    ['\\*', '*', true],
    ['\\*', 'x', false],
    ['a\\[b', 'a[b', true],
    ['[\\]]', ']', true],
    ['CASE', 'case', false],
    ['line*', 'line\nbreak', true],
    ['data.csv', 'data.csv', true],
    ['data.csv', 'dataxcsv', false],
    ['a.b', 'a.b', true],
    ['(x)+', '(x)+', true],
    ['$^.|{}', '$^.|{}', true],
    ['ファイル*', 'ファイル.bin', true],
  ])('%j against %j: %s', (glob, name, expected) => {
    expect(matches(glob, name)).toBe(expected);
  });

  it('matches many stars against long names without backtracking blow-up (a RegExp took hours here)', () => {
    const stars = '*a'.repeat(12) + '*b';
    expect(matches(stars, 'a'.repeat(4000))).toBe(false);
    expect(matches(stars, `${'a'.repeat(4000)}b`)).toBe(true);
    expect(matches('*[!x]*?*c', `${'ab'.repeat(2000)}c`)).toBe(true);
  });

  it('treats a glob without special characters as a plain name', () => {
    expect(compileGlob('plain.txt')).toEqual({ literal: 'plain.txt', tokens: null });
    expect(compileGlob('a\\*b')).toEqual({ literal: 'a*b', tokens: null });
  });

  it.each([
    ['a[b', "unterminated '['"],
    ['[', "unterminated '['"],
    ['[]', "unterminated '['"],
    ['[!]', "unterminated '['"],
    ['[a\\', "unterminated '['"],
    ['x\\', "lone '\\'"],
    ['[z-a]', "empty range 'z-a'"],
    ['dir/name', "contains '/'"],
  ])('rejects %j', (glob, why) => {
    const e = codeOf(() => compileGlob(glob));
    expect(e.code).toBe('ClientError.BadRequest.InvalidFilterRule');
    expect(e.message).toContain(why);
  });
});

describe('filter rules', () => {
  const rules = (...r: FilterRule[]) => compileFilterRules(r)!;

  it('is null when there are no rules', () => {
    expect(compileFilterRules(undefined)).toBeNull();
    expect(compileFilterRules(null)).toBeNull();
    expect(compileFilterRules([])).toBeNull();
  });

  it('includes what no rule matches', () => {
    const m = rules({ method: 'exclude', name: '*.tmp' });
    expect(m.excludes('keep.txt', 'file')).toBe(false);
    expect(m.excludes('drop.tmp', 'file')).toBe(true);
    expect(m.excludes('dir.tmp', 'dir')).toBe(true);
  });

  it('lets the first matching rule decide', () => {
    const m = rules(
      { method: 'include', name: 'important.log' },
      { method: 'exclude', name: '*.log' },
      { method: 'include', name: '*' },
    );
    expect(m.excludes('important.log', 'file')).toBe(false);
    expect(m.excludes('other.log', 'file')).toBe(true);
    expect(m.excludes('x.txt', 'file')).toBe(false);
    // Reversed order: the catch-all include decides first.
    const r = rules({ method: 'include', name: '*' }, { method: 'exclude', name: '*.log' });
    expect(r.excludes('other.log', 'file')).toBe(false);
  });

  it('restricts typed rules to files or directories', () => {
    const m = rules(
      { method: 'exclude', name: 'build', type: 'dir' },
      { method: 'exclude', name: '*.o', type: 'file' },
    );
    expect(m.excludes('build', 'dir')).toBe(true);
    expect(m.excludes('build', 'file')).toBe(false);
    expect(m.excludes('x.o', 'file')).toBe(true);
    expect(m.excludes('x.o', 'dir')).toBe(false);
  });

  it('can keep only some names: include them, then exclude the rest', () => {
    const m = rules(
      { method: 'include', name: '*', type: 'dir' },
      { method: 'include', name: '*.csv', type: 'file' },
      { method: 'exclude', name: '*' },
    );
    expect(m.excludes('any-dir', 'dir')).toBe(false);
    expect(m.excludes('a.csv', 'file')).toBe(false);
    expect(m.excludes('a.txt', 'file')).toBe(true);
  });

  it('names the bad rule', () => {
    const e = codeOf(() => compileFilterRules([{ method: 'exclude', name: '*.tmp' }, { method: 'include', name: 'a[b' }]));
    expect(e.code).toBe('ClientError.BadRequest.InvalidFilterRule');
    expect(e.message).toMatch(/^filter_rules\[1\]: .*unterminated '\['/);
  });
});
