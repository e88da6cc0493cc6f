import { describe, expect, it } from 'vitest';
import { isShareable, normaliseHostPath, normaliseRulePath, rootOf } from '../../../../src/control/sharing/paths.js';

const roots = [
  { path: '/srv/home/ann', writable: true, sharing: true },
  { path: '/srv/data', writable: true, sharing: false },
  { path: '/srv/data/public', writable: false, sharing: true },
];

describe('sharing paths', () => {
  it('normalises host paths, keeping /~/ and refusing climbs above the start', () => {
    expect(normaliseHostPath('/~/proj/./a/../b').canonical).toBe('/~/proj/b/');
    expect(normaliseHostPath('/srv//data/x/').canonical).toBe('/srv/data/x/');
    expect(normaliseHostPath('/~').canonical).toBe('/~/');
    for (const bad of ['', 'rel/path', '/~/../etc', '/..', '/a/\0b', '/a/~/b']) expect(() => normaliseHostPath(bad), bad).toThrow(/Invalid host_path/);
  });

  it('finds the deepest root by whole components; /~/ is the first root', () => {
    expect(rootOf(normaliseHostPath('/~/x/').parsed, roots)?.path).toBe('/srv/home/ann');
    expect(rootOf(normaliseHostPath('/srv/data/public/x').parsed, roots)?.path).toBe('/srv/data/public');
    expect(rootOf(normaliseHostPath('/srv/datafoo/x').parsed, roots)).toBeUndefined();
    expect(isShareable('/srv/data/x/', roots)).toBe(false);
    expect(isShareable('/srv/data/public/', roots)).toBe(true);
    expect(isShareable('/srv/home/ann/../bob/', roots)).toBe(false);
    expect(isShareable('/~/', [])).toBe(false);
  });

  it('normalises rule paths to directories and refuses dot components', () => {
    expect(normaliseRulePath('/')).toBe('/');
    expect(normaliseRulePath('/data')).toBe('/data/');
    expect(normaliseRulePath('//data//x/')).toBe('/data/x/');
    for (const bad of ['data/', '/a/../b', '/./a', '/a\0', '']) expect(() => normaliseRulePath(bad), bad).toThrow(/Invalid path/);
    // Bounded: rules travel to the agent in every snapshot, and are shown in terminals and e-mails.
    expect(() => normaliseRulePath('/a\u001b[31m/')).toThrow(/control character/);
    expect(() => normaliseRulePath('/a\u007f/')).toThrow(/control character/);
    expect(() => normaliseRulePath(`/${'n'.repeat(256)}/`)).toThrow(/component is longer than 255 bytes/);
    expect(normaliseRulePath(`/${'n'.repeat(255)}/`)).toBe(`/${'n'.repeat(255)}/`);
    expect(() => normaliseRulePath('/abcd'.repeat(206))).toThrow(/longer than 1024 bytes/);
    expect(() => normaliseHostPath('/~/tab\there/')).toThrow(/control character/);
  });
});
