import { describe, expect, it } from 'vitest';
import { compileFilter, compileOrder } from '../../../src/control/api/ls-filter.js';
import type { FileDoc } from '../../../src/protocol/index.js';

const f = (name: string, type: FileDoc['type'], size: number, last_modified = '2024-01-01 00:00:00+00:00'): FileDoc => ({
  DATA_TYPE: 'file', name, type, size, last_modified, link_target: null, permissions: '0644', user: 'u', group: 'g',
  link_size: null, link_user: null, link_group: null, link_last_modified: null,
});
const files = [f('a.txt', 'file', 5), f('b.csv', 'file', 500, '2025-06-01 00:00:00+00:00'), f('dir', 'dir', 4096), f('c[1].txt', 'file', 0)];
const names = (xs: FileDoc[]) => xs.map((x) => x.name);

describe('ls filter and orderby', () => {
  it('filters by glob, exact lists, type, size and date ranges', () => {
    expect(names(files.filter(compileFilter(['name:~*.txt'])))).toEqual(['a.txt', 'c[1].txt']);
    expect(names(files.filter(compileFilter(['name:a.txt,dir'])))).toEqual(['a.txt', 'dir']);
    expect(names(files.filter(compileFilter(['type:dir'])))).toEqual(['dir']);
    expect(names(files.filter(compileFilter(['type:file/size:>=5'])))).toEqual(['a.txt', 'b.csv']);
    expect(names(files.filter(compileFilter(['size:<5'])))).toEqual(['c[1].txt']);
    expect(names(files.filter(compileFilter(['last_modified:2025-01-01,'])))).toEqual(['b.csv']);
    expect(names(files.filter(compileFilter(['name:!~*.txt'])))).toEqual(['b.csv', 'dir']);
    expect(names(files.filter(compileFilter(['name:~c[0-9]*'])))).toEqual([]);
    expect(names(files.filter(compileFilter(['name:~?.txt'])))).toEqual(['a.txt']);
    expect(names(files.filter(compileFilter([])))).toHaveLength(4);
  });

  it('ORs repeated filter parameters and knows = and !=', () => {
    expect(names(files.filter(compileFilter(['name:=a.txt', 'type:dir'])))).toEqual(['a.txt', 'dir']);
    expect(names(files.filter(compileFilter(['name:!=a.txt,dir'])))).toEqual(['b.csv', 'c[1].txt']);
    expect(names(files.filter(compileFilter(['type:file/size:!=0', 'name:=dir'])))).toEqual(['a.txt', 'b.csv', 'dir']);
    expect(names(files.filter(compileFilter(['size:=500'])))).toEqual(['b.csv']);
  });

  it('rejects unknown fields and malformed clauses with ClientError.BadRequest', () => {
    for (const bad of ['owner:x', 'nocolon', 'size:big', 'last_modified:yesterday,']) {
      expect(() => compileFilter([bad]), bad).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest' }));
    }
  });

  it('orders by several keys in either direction', () => {
    expect(names([...files].sort(compileOrder('size DESC')!))).toEqual(['dir', 'b.csv', 'a.txt', 'c[1].txt']);
    expect(names([...files].sort(compileOrder('type ASC, name DESC')!))).toEqual(['dir', 'c[1].txt', 'b.csv', 'a.txt']);
    expect(compileOrder(undefined)).toBeUndefined();
    expect(() => compileOrder('name UP')).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest' }));
    expect(() => compileOrder('secret')).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest' }));
  });
});
