import { FerryError } from '../../common/errors.js';
import type { FileDoc } from '../../protocol/index.js';

/**
 * Globus `filter` and `orderby` for ls (globus-api.md §0): clauses joined by '/', values
 * by ',', `=`/`!=` for exact (not) equal, `~`/`!~` for globs, `>`/`<`/`>=`/`<=` for numbers, `a,b` ranges for last_modified.
 * Applied by control on the agent's full listing, as Globus does over GridFTP.
 */
type Predicate = (f: FileDoc) => boolean;

const FILTER_FIELDS = new Set(['name', 'type', 'size', 'last_modified', 'permissions', 'user', 'group']);

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) { re += '\\['; continue; }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function numberPredicate(field: 'size', value: string): Predicate {
  const m = /^(>=|<=|!=|>|<|=)?(\d+)$/.exec(value);
  if (!m) throw new FerryError('ClientError.BadRequest', `filter ${field}:${value} is not a number comparison`);
  const n = Number(m[2]);
  switch (m[1]) {
    case '>': return (f) => f.size > n;
    case '<': return (f) => f.size < n;
    case '>=': return (f) => f.size >= n;
    case '<=': return (f) => f.size <= n;
    case '!=': return (f) => f.size !== n;
    default: return (f) => f.size === n;
  }
}

function clausePredicate(clause: string): Predicate {
  const colon = clause.indexOf(':');
  if (colon <= 0) throw new FerryError('ClientError.BadRequest', `filter clause '${clause}' must look like field:value`);
  const field = clause.slice(0, colon);
  const value = clause.slice(colon + 1);
  if (!FILTER_FIELDS.has(field)) throw new FerryError('ClientError.BadRequest', `cannot filter on '${field}'`);
  if (field === 'size') return numberPredicate('size', value);
  if (field === 'last_modified') {
    // Range "from,to" with either end open; compare as timestamps.
    const [from = '', to = ''] = value.split(',');
    const t = (s: string) => Date.parse(s.replace(' ', 'T'));
    const lo = from ? t(from) : -Infinity;
    const hi = to ? t(to) : Infinity;
    if (Number.isNaN(lo) || Number.isNaN(hi)) throw new FerryError('ClientError.BadRequest', `filter last_modified:${value} has a bad date`);
    return (f) => { const m = t(f.last_modified); return m >= lo && m <= hi; };
  }
  if (value.startsWith('~')) {
    const re = globToRegExp(value.slice(1));
    return (f) => re.test(String(f[field as keyof FileDoc] ?? ''));
  }
  if (value.startsWith('!~')) {
    const re = globToRegExp(value.slice(2));
    return (f) => !re.test(String(f[field as keyof FileDoc] ?? ''));
  }
  if (value.startsWith('!=')) {
    const values = new Set(value.slice(2).split(','));
    return (f) => !values.has(String(f[field as keyof FileDoc] ?? ''));
  }
  if (value.startsWith('=')) {
    const values = new Set(value.slice(1).split(','));
    return (f) => values.has(String(f[field as keyof FileDoc] ?? ''));
  }
  if (value.startsWith('!')) {
    const values = new Set(value.slice(1).split(','));
    return (f) => !values.has(String(f[field as keyof FileDoc] ?? ''));
  }
  const values = new Set(value.split(','));
  return (f) => values.has(String(f[field as keyof FileDoc] ?? ''));
}

/**
 * Each `filter` query value may hold several '/'-joined clauses, all of which must match; when
 * `filter` is repeated, an entry matching any one of them is listed (ORed, as Globus does).
 */
export function compileFilter(filters: readonly string[]): Predicate {
  const groups = filters.map((f) => f.split('/').filter((c) => c !== '').map(clausePredicate)).filter((g) => g.length > 0);
  if (groups.length === 0) return () => true;
  return (f) => groups.some((preds) => preds.every((p) => p(f)));
}

const ORDER_FIELDS = new Set(['name', 'type', 'size', 'last_modified', 'permissions', 'user', 'group']);

export function compileOrder(orderby: string | undefined): ((a: FileDoc, b: FileDoc) => number) | undefined {
  if (!orderby) return undefined;
  const keys = orderby.split(',').map((part) => {
    const [field = '', dir = 'ASC', ...rest] = part.trim().split(/\s+/);
    const d = dir.toUpperCase();
    if (!ORDER_FIELDS.has(field) || rest.length > 0 || (d !== 'ASC' && d !== 'DESC')) {
      throw new FerryError('ClientError.BadRequest', `bad orderby '${part.trim()}': use FIELD [ASC|DESC] with FIELD one of ${[...ORDER_FIELDS].join(', ')}`);
    }
    return { field: field as keyof FileDoc, sign: d === 'DESC' ? -1 : 1 };
  });
  return (a, b) => {
    for (const k of keys) {
      const x = a[k.field]; const y = b[k.field];
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
      if (c !== 0) return c * k.sign;
    }
    return 0;
  };
}
