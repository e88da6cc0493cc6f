import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, FerryError, errorFromWire, isErrorCode, safetyCatch } from '../../../src/common/errors.js';

describe('error catalog', () => {
  it('is documented in the README, code for code, with the same HTTP status and action', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| `([^`]+)` \| (\d+) \| (\w+) \|/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    const catalog = Object.entries(ERROR_CATALOG).map(([code, e]) => [code, e.status, e.action]);
    expect(rows.sort()).toEqual(catalog.sort());
  });

  it('builds errors with code, status and action, and rebuilds them from the wire', () => {
    const e = new FerryError('EndpointNotFound');
    expect([e.code, e.status, e.action, e.message]).toEqual(['EndpointNotFound', 404, 'fail', ERROR_CATALOG.EndpointNotFound.summary]);
    expect(errorFromWire({ code: 'ClientError.NotFound', message: 'gone' })).toMatchObject({ code: 'ClientError.NotFound', message: 'gone' });
    expect(errorFromWire({ code: 'Made.Up', message: 'x' })).toMatchObject({ code: 'InternalError', message: 'Made.Up: x' });
    expect(isErrorCode('toString')).toBe(false);
  });

  it('hands runtime errors to the handler and re-throws programmer errors', async () => {
    const seen: unknown[] = [];
    const handler = safetyCatch((err) => seen.push(err));
    handler(new FerryError('InternalError'));
    expect(seen).toHaveLength(1);
    const thrown = new Promise<unknown>((resolve) => {
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (err) => { listeners.forEach((l) => process.on('uncaughtException', l)); resolve(err); });
    });
    const bug = new TypeError('bug');
    handler(bug);
    expect(await thrown).toBe(bug);
    expect(seen).toHaveLength(1);
  });
});
