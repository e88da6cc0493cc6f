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
  tokens: GlobToken[] | null;
}

/** One step of a glob: a code point, `?`, `*`, or a bracket class (inclusive code-point ranges). */
type GlobToken =
  | { kind: 'char'; cp: number }
  | { kind: 'any' }
  | { kind: 'star' }
  | { kind: 'class'; negate: boolean; ranges: Array<[number, number]> };

export interface FilterMatcher {
  /** True when the rules leave `name` (a base name) of this type out of the transfer. */
  excludes(name: string, type: EntryType): boolean;
}

const invalid = (message: string) => new FerryError('ClientError.BadRequest.InvalidFilterRule', message);

/**
 * The glob as tokens, or its literal text when it has no special characters. Throws
 * ClientError.BadRequest.InvalidFilterRule for a malformed glob. Matching walks the tokens
 * (globMatch), never a backtracking RegExp: `*a*a*a*b` against a long name of `a`s would take a
 * RegExp exponential time, on the agent's main thread.
 */
export function compileGlob(glob: string): { literal: string | null; tokens: GlobToken[] | null } {
  if (glob.length === 0) throw invalid('a filter rule name must not be empty');
  if (glob.includes('/')) throw invalid(`filter rule name '${glob}' contains '/': rules match a single file or directory name, not a path`);
  if (glob.includes('\0')) throw invalid('a filter rule name must not contain a NUL character');
  const chars = Array.from(glob);
  const tokens: GlobToken[] = [];
  let special = false;
  let text = '';
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k]!;
    if (c === '*') {
      special = true;
      while (chars[k + 1] === '*') k++;
      tokens.push({ kind: 'star' });
    } else if (c === '?') {
      special = true;
      tokens.push({ kind: 'any' });
    } else if (c === '\\') {
      const next = chars[k + 1];
      if (next === undefined) throw invalid(`filter rule name '${glob}' ends with a lone '\\'`);
      k++;
      tokens.push({ kind: 'char', cp: next.codePointAt(0)! });
      text += next;
    } else if (c === '[') {
      special = true;
      const parsed = parseClass(glob, chars, k);
      tokens.push(parsed.token);
      k = parsed.end;
    } else {
      tokens.push({ kind: 'char', cp: c.codePointAt(0)! });
      text += c;
    }
  }
  return special ? { literal: null, tokens } : { literal: text, tokens: null };
}

/** A bracket expression starting at chars[open] === '[': its token and the index of its ']'. */
function parseClass(glob: string, chars: string[], open: number): { token: GlobToken; end: number } {
  let k = open + 1;
  const negate = chars[k] === '!';
  if (negate) k++;
  const first = k;
  const ranges: Array<[number, number]> = [];
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
    const lo = member().codePointAt(0)!;
    if (chars[k] === '-' && chars[k + 1] !== undefined && chars[k + 1] !== ']') {
      k++;
      const hiChar = member();
      const hi = hiChar.codePointAt(0)!;
      if (hi < lo) throw invalid(`filter rule name '${glob}' has an empty range '${String.fromCodePoint(lo)}-${hiChar}'`);
      ranges.push([lo, hi]);
    } else {
      ranges.push([lo, lo]);
    }
  }
  return { token: { kind: 'class', negate, ranges }, end: k };
}

function tokenMatches(t: GlobToken, cp: number): boolean {
  switch (t.kind) {
    case 'char': return t.cp === cp;
    case 'any': return true;
    case 'class': return t.ranges.some(([lo, hi]) => cp >= lo && cp <= hi) !== t.negate;
    case 'star': return false;
  }
}

/**
 * Whether the whole `name` matches: the classic wildcard walk that, on a mismatch, only goes back
 * to the last `*` (letting it take one more character). O(name x glob) at worst.
 */
export function globMatch(tokens: readonly GlobToken[], name: string): boolean {
  const cps = Array.from(name, (ch) => ch.codePointAt(0)!);
  let t = 0;
  let n = 0;
  let starT = -1;
  let starN = 0;
  while (n < cps.length) {
    const tok = tokens[t];
    if (tok && tok.kind === 'star') {
      starT = t++;
      starN = n;
    } else if (tok && tokenMatches(tok, cps[n]!)) {
      t++;
      n++;
    } else if (starT >= 0) {
      t = starT + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
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
        if (r.literal !== null ? r.literal === name : globMatch(r.tokens!, name)) return r.exclude;
      }
      return false;
    },
  };
}
