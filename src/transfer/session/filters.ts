import { FerryError } from '../../common/errors.js';
import type { FilterRule } from '../../protocol/session.js';

/**
 * Globus filter rules (globus-api.md §1.2 "Filter rules"): an ordered list of include/exclude
 * globs matched against the base name of each entry found while recursing (never an item's own
 * path). The first rule that matches decides; an entry no rule matches is included; a rule with
 * a `type` only applies to files or only to directories. Excluding a directory excludes its
 * whole subtree (the walk does not enter it).
 *
 * Globs: `*` any run of characters, `?` one character, `[abc]` / `[a-z]` a class, `[!abc]` a
 * negated class, `\` makes the next character literal. As in fnmatch, a `]` right after `[` or
 * `[!` is a member, `-` first or last is literal, and `*` also matches a leading dot. Names
 * are compared as Unicode code points, case-sensitively. Compiled once per session.
 */

export type EntryType = 'file' | 'dir';

interface CompiledRule {
  exclude: boolean;
  /** null: both types. */
  type: EntryType | null;
  /** The name itself when the glob has no special characters (a string compare is enough). */
  literal: string | null;
  re: RegExp | null;
}

export interface FilterMatcher {
  /** True when the rules leave `name` (a base name) of this type out of the transfer. */
  excludes(name: string, type: EntryType): boolean;
}

const invalid = (message: string) => new FerryError('ClientError.BadRequest.InvalidFilterRule', message);

/** One code point as a regular-expression atom that means exactly itself (flag `u`). */
const lit = (ch: string) => `\\u{${ch.codePointAt(0)!.toString(16)}}`;

/**
 * The glob as an anchored RegExp, or its literal text when it has no special characters.
 * Throws ClientError.BadRequest.InvalidFilterRule for a malformed glob.
 */
export function compileGlob(glob: string): { literal: string | null; re: RegExp | null } {
  if (glob.length === 0) throw invalid('a filter rule name must not be empty');
  if (glob.includes('/')) throw invalid(`filter rule name '${glob}' contains '/': rules match a single file or directory name, not a path`);
  if (glob.includes('\0')) throw invalid('a filter rule name must not contain a NUL character');
  const chars = Array.from(glob);
  let src = '^';
  let special = false;
  let text = '';
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k]!;
    if (c === '*') {
      special = true;
      while (chars[k + 1] === '*') k++;
      src += '.*';
    } else if (c === '?') {
      special = true;
      src += '.';
    } else if (c === '\\') {
      const next = chars[k + 1];
      if (next === undefined) throw invalid(`filter rule name '${glob}' ends with a lone '\\'`);
      k++;
      src += lit(next);
      text += next;
    } else if (c === '[') {
      special = true;
      const parsed = parseClass(glob, chars, k);
      src += parsed.source;
      k = parsed.end;
    } else {
      src += lit(c);
      text += c;
    }
  }
  if (!special) return { literal: text, re: null };
  return { literal: null, re: new RegExp(`${src}$`, 'su') };
}

/** A bracket expression starting at chars[open] === '[': its RegExp source and the index of its ']'. */
function parseClass(glob: string, chars: string[], open: number): { source: string; end: number } {
  let k = open + 1;
  const negate = chars[k] === '!';
  if (negate) k++;
  const first = k;
  let body = '';
  const unterminated = () => invalid(`filter rule name '${glob}' has an unterminated '[' (at character ${open + 1})`);
  const member = (): string => {
    const c = chars[k];
    if (c === undefined) throw unterminated();
    k++;
    if (c !== '\\') return c;
    const next = chars[k];
    if (next === undefined) throw unterminated();
    k++;
    return next;
  };
  for (;;) {
    const c = chars[k];
    if (c === undefined) throw unterminated();
    if (c === ']' && k > first) break;
    const lo = member();
    if (chars[k] === '-' && chars[k + 1] !== undefined && chars[k + 1] !== ']') {
      k++;
      const hi = member();
      if (hi.codePointAt(0)! < lo.codePointAt(0)!) throw invalid(`filter rule name '${glob}' has an empty range '${lo}-${hi}'`);
      body += `${lit(lo)}-${lit(hi)}`;
    } else {
      body += lit(lo);
    }
  }
  return { source: `[${negate ? '^' : ''}${body}]`, end: k };
}

/**
 * Check and compile rules once (at submit on control, at session start on the agents). Returns
 * null when there are none, so the walk's hot path is a single null check. A bad glob throws
 * ClientError.BadRequest.InvalidFilterRule naming the rule.
 */
export function compileFilterRules(rules: readonly FilterRule[] | null | undefined): FilterMatcher | null {
  if (!rules || rules.length === 0) return null;
  const compiled: CompiledRule[] = rules.map((r, k) => {
    try {
      return { exclude: r.method === 'exclude', type: r.type ?? null, ...compileGlob(r.name) };
    } catch (err) {
      if (err instanceof FerryError) throw invalid(`filter_rules[${k}]: ${err.message}`);
      throw err;
    }
  });
  return {
    excludes(name: string, type: EntryType): boolean {
      for (const r of compiled) {
        if (r.type !== null && r.type !== type) continue;
        if (r.literal !== null ? r.literal === name : r.re!.test(name)) return r.exclude;
      }
      return false;
    },
  };
}
