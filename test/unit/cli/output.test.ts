import { describe, expect, it } from 'vitest';
import type { EndpointListDocument, FileListDocument } from '../../../src/cli/api-client.js';
import {
  formatEndpoint, formatEndpointCreated, formatEndpointList, formatJson, formatLs, formatStat, lsTruncationNote, modeString, safeText, shortTime,
} from '../../../src/cli/output.js';
import type { FileDoc } from '../../../src/protocol/file-doc.js';

const EP = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

function file(over: Partial<FileDoc>): FileDoc {
  return {
    DATA_TYPE: 'file', name: 'f', type: 'file', link_target: null, size: 0, last_modified: '2023-12-18 16:52:50+00:00',
    permissions: '0644', user: 'alice', group: 'lab', link_size: null, link_user: null, link_group: null, link_last_modified: null, ...over,
  };
}

const list: FileListDocument = {
  DATA_TYPE: 'file_list', endpoint: EP, path: '/~/', absolute_path: null, length: 3, total: 3,
  DATA: [
    file({ name: 'zeta.txt', size: 1234567 }),
    file({ name: 'data', type: 'dir', size: 4096, permissions: '0755' }),
    file({ name: 'latest', type: 'dir', size: 4096, permissions: '0777', link_target: '/data/run7' }),
  ],
};

describe('modeString', () => {
  it('renders type and permission bits like ls -l', () => {
    expect(modeString(file({}))).toBe('-rw-r--r--');
    expect(modeString(file({ type: 'dir', permissions: '0755' }))).toBe('drwxr-xr-x');
    expect(modeString(file({ type: 'invalid_symlink', permissions: '0777' }))).toBe('lrwxrwxrwx');
    expect(modeString(file({ permissions: '0777', link_target: '/x' }))).toBe('lrwxrwxrwx');
    expect(modeString(file({ type: 'pipe', permissions: '0600' }))).toBe('prw-------');
  });

  it('shows setuid, setgid and sticky bits', () => {
    expect(modeString(file({ permissions: '4755' }))).toBe('-rwsr-xr-x');
    expect(modeString(file({ permissions: '2745' }))).toBe('-rwxr-Sr-x');
    expect(modeString(file({ type: 'dir', permissions: '1777' }))).toBe('drwxrwxrwt');
    expect(modeString(file({ type: 'dir', permissions: '1776' }))).toBe('drwxrwxrwT');
  });
});

describe('formatLs', () => {
  it('lists names sorted, directories with a trailing slash', () => {
    expect(formatLs(list)).toBe('data/\nlatest/\nzeta.txt\n');
  });

  it('long form aligns columns and shows link targets', () => {
    expect(formatLs(list, { long: true })).toBe([
      'drwxr-xr-x  alice  lab     4096  2023-12-18 16:52  data/',
      'lrwxrwxrwx  alice  lab     4096  2023-12-18 16:52  latest/ -> /data/run7',
      '-rw-r--r--  alice  lab  1234567  2023-12-18 16:52  zeta.txt',
      '',
    ].join('\n'));
  });

  it('prints nothing for an empty directory', () => {
    expect(formatLs({ ...list, DATA: [], length: 0, total: 0 })).toBe('');
    expect(formatLs({ ...list, DATA: [], length: 0, total: 0 }, { long: true })).toBe('');
  });

  it('escapes control characters in remote names', () => {
    expect(formatLs({ ...list, DATA: [file({ name: 'evil\x1b]0;pwned\x07\nname' })] })).toBe('evil\\x1b]0;pwned\\x07\\x0aname\n');
    expect(safeText('tab\there\u0085')).toBe('tab\\x09here\\x85');
  });

  it('notes a partial listing', () => {
    expect(lsTruncationNote(list)).toBeUndefined();
    expect(lsTruncationNote({ ...list, total: 10 })).toBe('ferry: showing 3 of 10 entries in /~/\n');
  });
});

describe('other formatters', () => {
  it('shortTime trims seconds and offset, and passes unknown forms through', () => {
    expect(shortTime('2023-12-18 16:52:50+00:00')).toBe('2023-12-18 16:52');
    expect(shortTime('2023-12-18T16:52:50Z')).toBe('2023-12-18 16:52');
    expect(shortTime('yesterday')).toBe('yesterday');
    expect(shortTime(null)).toBe('-');
  });

  it('formatStat shows one aligned field per line and skips nulls', () => {
    expect(formatStat(file({ name: 'x.csv', size: 42 }))).toBe([
      'Name:           x.csv',
      'Type:           file',
      'Size:           42',
      'Permissions:    0644 (-rw-r--r--)',
      'Last modified:  2023-12-18 16:52:50+00:00',
      'User:           alice',
      'Group:          lab',
      '',
    ].join('\n'));
  });

  it('formatJson prints the document unchanged', () => {
    expect(JSON.parse(formatJson(list))).toEqual(list);
    expect(formatJson({ a: 1 })).toBe('{\n  "a": 1\n}\n');
  });

  it('formatEndpoint and formatEndpointList', () => {
    const ep = { DATA_TYPE: 'endpoint' as const, id: EP, display_name: 'lab-nas', owner_string: 'alice', entity_type: 'GCP_mapped_collection', is_globus_connect: true, gcp_connected: false, description: null };
    expect(formatEndpoint(ep)).toBe([
      `ID:            ${EP}`, 'Display name:  lab-nas', 'Owner:         alice', 'Type:          GCP_mapped_collection',
      'Personal:      yes', 'Connected:     no', '',
    ].join('\n'));
    const found: EndpointListDocument = { DATA_TYPE: 'endpoint_list', DATA: [ep], has_next_page: true };
    expect(formatEndpointList(found)).toBe(
      `ID                                    Owner  Connected  Display Name\n${EP}  alice  no         lab-nas\n(more results exist: narrow the search with TEXT)\n`);
    expect(formatEndpointList({ DATA_TYPE: 'endpoint_list', DATA: [] })).toBe('No endpoints found.\n');
  });

  it('formatEndpointCreated prints the id, the key and the next command', () => {
    const text = formatEndpointCreated({ DATA_TYPE: 'endpoint_create_result', code: 'Created', message: 'ok', id: EP, globus_connect_setup_key: 'ferry1_abc' }, 'lab-nas');
    expect(text).toContain(`Endpoint ID: ${EP}`);
    expect(text).toContain('Setup key:   ferry1_abc');
    expect(text).toContain('\n  ferry agent setup --setup-key ferry1_abc --data-dir DIR --root PATH:rw\n');
    expect(text).toContain(`ferry ls ${EP}:/~/`);
    const noKey = formatEndpointCreated({ DATA_TYPE: 'endpoint_create_result', code: 'Created', message: 'ok', id: EP, globus_connect_setup_key: null }, 'x');
    expect(noKey).not.toContain('agent setup');
  });
});
