import { afterEach, describe, expect, it } from 'vitest';
import { parseTaskFilter } from '../../../../src/control/tasks/task-query.js';
import { world, type World } from './fixtures.js';

describe('task_list label filters (=, !, ~, !~)', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  it('parses the operators', () => {
    expect(parseTaskFilter(['label:=nightly'])).toEqual({ labels: ['nightly'] });
    expect(parseTaskFilter(['label:!nightly,weekly'])).toEqual({ labelsNot: ['nightly', 'weekly'] });
    expect(parseTaskFilter(['label:!~night'])).toEqual({ labelNotLike: 'night' });
    expect(parseTaskFilter(['label:~night'])).toEqual({ labelLike: 'night' });
  });

  it('filters the store; tasks without a label pass the negative filters', () => {
    w = world();
    const a = w.transfer({ label: 'nightly backup' }).id;
    const b = w.transfer({ label: 'weekly' }).id;
    const c = w.transfer({ label: null }).id;
    const base = { ownerId: w.owner, orderBy: [{ field: 'request_time' as const, desc: false }], limit: 10, offset: 0 };
    const ids = (f: ReturnType<typeof parseTaskFilter>) => w.store.tasks.list({ ...base, ...f }).records.map((r) => r.id).sort();
    expect(ids(parseTaskFilter(['label:=weekly']))).toEqual([b]);
    expect(ids(parseTaskFilter(['label:!weekly']))).toEqual([a, c].sort());
    expect(ids(parseTaskFilter(['label:!~NIGHT']))).toEqual([b, c].sort());
    expect(ids(parseTaskFilter(['label:~night']))).toEqual([a]);
  });
});
