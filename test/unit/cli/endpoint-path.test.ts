import { describe, expect, it } from 'vitest';
import { normalizePath, parseEndpointPath } from '../../../src/cli/endpoint-path.js';
import { parseRenameTarget } from '../../../src/cli/commands/files.js';

const EP = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('parseEndpointPath', () => {
  it('splits at the first colon and keeps later colons in the path', () => {
    expect(parseEndpointPath(`${EP}:/data/a:b.txt`)).toEqual({ endpointId: EP, path: '/data/a:b.txt' });
  });

  it('defaults an empty or missing path to /~/', () => {
    expect(parseEndpointPath(`${EP}:`)).toEqual({ endpointId: EP, path: '/~/' });
    expect(parseEndpointPath(EP)).toEqual({ endpointId: EP, path: '/~/' });
  });

  it('lower-cases the endpoint id and accepts ~ shorthand', () => {
    expect(parseEndpointPath(`${EP.toUpperCase()}:~/x`)).toEqual({ endpointId: EP, path: '/~/x' });
    expect(parseEndpointPath(`${EP}:~`).path).toBe('/~/');
  });

  it('rejects a bad endpoint id with the expected form in the message', () => {
    expect(() => parseEndpointPath('myep:/data')).toThrow(/'myep' is not an endpoint ID.*ENDPOINT_ID:PATH/);
    expect(() => parseEndpointPath(':/data')).toThrow(/endpoint ID is missing/);
    expect(() => parseEndpointPath(`${EP.slice(1)}:/x`)).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest' }));
  });

  it('rejects relative paths, NUL bytes and over-long paths', () => {
    expect(() => parseEndpointPath(`${EP}:data`)).toThrow(/'data' is not absolute.*\/~\/data/);
    expect(() => parseEndpointPath(`${EP}:/a\0b`)).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest.InvalidPath' }));
    expect(() => parseEndpointPath(`${EP}:/${'a'.repeat(4096)}`)).toThrow(/longer than 4096 bytes/);
    expect(parseEndpointPath(`${EP}:/${'a'.repeat(4095)}`).path).toHaveLength(4096);
  });

  it('requires a path when asked to', () => {
    expect(() => parseEndpointPath(`${EP}:`, { requirePath: true })).toThrow(/names no path/);
    expect(() => parseEndpointPath(EP, { requirePath: true })).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest.InvalidPath' }));
    expect(parseEndpointPath(`${EP}:/~/`, { requirePath: true }).path).toBe('/~/');
  });

  it('normalizePath leaves absolute paths alone', () => {
    expect(normalizePath('/~/a/../b/')).toBe('/~/a/../b/');
  });
});

describe('rename NEWPATH', () => {
  it('accepts a bare path or ID:path on the same endpoint only', () => {
    expect(parseRenameTarget('/~/new', EP)).toBe('/~/new');
    expect(parseRenameTarget('~/new', EP)).toBe('/~/new');
    expect(parseRenameTarget(`${EP}:/~/new`, EP)).toBe('/~/new');
    expect(() => parseRenameTarget('6a1f2c3d-4e5f-4a6b-8c7d-000000000000:/x', EP)).toThrow(/within one endpoint/);
    expect(() => parseRenameTarget('new', EP)).toThrow(/'new' is not absolute/);
    expect(() => parseRenameTarget(`${EP}:`, EP)).toThrow(/names no path/);
  });
});
