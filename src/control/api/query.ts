import { FerryError } from '../../common/errors.js';

/** Query-string helpers: Globus clients send booleans as true/false or 1/0. */
export type Query = Record<string, string | string[] | undefined>;

export function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return v;
}

export function all(q: Query, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function bool(q: Query, name: string, fallback: boolean): boolean {
  const v = one(q, name);
  if (v === undefined || v === '') return fallback;
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new FerryError('ClientError.BadRequest', `query parameter '${name}' must be true, false, 1 or 0`);
}

export function int(q: Query, name: string, fallback: number, min: number, max: number): number {
  const v = one(q, name);
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v)) throw new FerryError('ClientError.BadRequest', `query parameter '${name}' must be a non-negative integer`);
  const n = Number(v);
  if (n < min || n > max) throw new FerryError('ClientError.BadRequest', `query parameter '${name}' must be between ${min} and ${max}`);
  return n;
}
