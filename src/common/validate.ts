import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { FerryError, type ErrorCode } from './errors.js';

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = (addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ?? addFormatsImport;

/** One Ajv for every schema Ferry declares (link messages, configs, REST bodies). */
const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true, coerceTypes: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);

const compiled = new WeakMap<TSchema, ValidateFunction>();

function validatorFor(schema: TSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

export function describeErrors(errors: ErrorObject[] | null | undefined, limit = 5): string {
  if (!errors || errors.length === 0) return 'invalid';
  return errors.slice(0, limit).map((e) => {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    if (e.keyword === 'additionalProperties') return `${where}: unknown key '${String(e.params['additionalProperty'])}'`;
    return `${where}: ${e.message ?? 'invalid'}`;
  }).join('; ');
}

/** Returns the problems as text, or null when the value matches (defaults applied in place). */
export function checkSchema(schema: TSchema, value: unknown): string | null {
  const fn = validatorFor(schema);
  return fn(value) ? null : describeErrors(fn.errors);
}

export function isValid<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  return validatorFor(schema)(value);
}

/** Validate or throw a FerryError carrying `code` and a readable list of the problems. */
export function assertSchema<T extends TSchema>(schema: T, value: unknown, code: ErrorCode, what: string): Static<T> {
  const problems = checkSchema(schema, value);
  if (problems !== null) throw new FerryError(code, `${what}: ${problems}`);
  return value as Static<T>;
}
