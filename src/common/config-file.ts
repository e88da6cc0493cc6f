import { readFileSync } from 'node:fs';
import type { Static, TSchema } from '@sinclair/typebox';
import { FerryError } from './errors.js';
import { checkSchema } from './validate.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Read a JSON config file, validate it against its schema (unknown keys rejected, defaults
 * filled in) and freeze it. Every failure names the file, the key and the reason.
 */
export function loadConfigFile<T extends TSchema>(file: string, schema: T): Static<T> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FerryError('Config.NotFound', `${file}: cannot read config (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FerryError('Config.Invalid', `${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseConfig(value, schema, file);
}

export function parseConfig<T extends TSchema>(value: unknown, schema: T, source: string): Static<T> {
  const problems = checkSchema(schema, value);
  if (problems !== null) throw new FerryError('Config.Invalid', `${source}: ${problems}`);
  return deepFreeze(value as Static<T>);
}
