import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SharingReplica, SqliteReplicaStore } from '../../../../src/agent/sharing/index.js';
import type { GuestCollection } from '../../../../src/protocol/index.js';

const C1 = '00000000-0000-4000-8000-0000000000c1';
const C2 = '00000000-0000-4000-8000-0000000000c2';
const OWNER = '00000000-0000-4000-8000-000000000001';
const log = pino({ level: 'silent' });

const collection = (id: string, rules: GuestCollection['rules'] = []): GuestCollection => ({ id, hostPath: '/~/s/', ownerId: OWNER, enabled: true, managers: [], rules });

describe('the agent sharing replica', () => {
  const temps: string[] = [];
  afterEach(() => { for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true }); });
  const dbFile = () => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-replica-'));
    temps.push(d);
    return join(d, 'state.db');
  };

  it('serves nothing until a snapshot, applies updates in order, refuses a gap', async () => {
    const replica = new SharingReplica(new SqliteReplicaStore(dbFile()), log);
    await expect(replica.get(C1, 20)).rejects.toMatchObject({ code: 'Sharing.ReplicaStale' });
    const waiting = replica.get(C1, 5_000);
    expect(replica.applySnapshot({ type: 'sharing.snapshot', id: '1', version: 3, collections: [collection(C1)] })).toEqual({ version: 3 });
    expect((await waiting)?.collection.id).toBe(C1);
    replica.applyUpdate({ type: 'sharing.update', id: '2', baseVersion: 3, version: 4, collections: [collection(C2)], removed: [C1] });
    expect(replica.current(C1)).toBeUndefined();
    expect(replica.current(C2)?.collection.id).toBe(C2);
    expect(() => replica.applyUpdate({ type: 'sharing.update', id: '3', baseVersion: 3, version: 5, collections: [], removed: [] })).toThrow(expect.objectContaining({ code: 'Sharing.VersionGap' }));
    // The link drops: stale until the next snapshot, and an update alone does not make it fresh.
    replica.markStale();
    expect(replica.current(C2)).toBeUndefined();
    expect(() => replica.applyUpdate({ type: 'sharing.update', id: '4', baseVersion: 4, version: 5, collections: [], removed: [] })).toThrow(expect.objectContaining({ code: 'Sharing.VersionGap' }));
  });

  it('keeps its copy across restarts, still stale until control refreshes it; drops rules that would leave the collection', () => {
    const file = dbFile();
    const first = new SqliteReplicaStore(file);
    const replica = new SharingReplica(first, log);
    replica.applySnapshot({
      type: 'sharing.snapshot', id: '1', version: 7, collections: [collection(C1, [
        { id: '00000000-0000-4000-8000-000000000101', principalType: 'anonymous', principal: '', path: '/ok/', permissions: 'r', expiresAt: null },
        { id: '00000000-0000-4000-8000-000000000102', principalType: 'anonymous', principal: '', path: '/../escape/', permissions: 'rw', expiresAt: null },
      ])],
    });
    expect(replica.current(C1)?.rules.map((r) => r.rule.path)).toEqual(['/ok/']);
    first.close();
    const second = new SqliteReplicaStore(file);
    const again = new SharingReplica(second, log);
    expect(again.currentVersion).toBe(7);
    expect(again.isFresh).toBe(false);
    expect(again.current(C1)).toBeUndefined();
    second.close();
  });

  it('acknowledges a change only after the writes older rules allowed have landed, never waiting for newer ones', async () => {
    const replica = new SharingReplica(null, log);
    replica.applySnapshot({ type: 'sharing.snapshot', id: '1', version: 1, collections: [collection(C1)] });
    await replica.writesSettled();
    const older = replica.holdWrite();
    replica.applyUpdate({ type: 'sharing.update', id: '2', baseVersion: 1, version: 2, collections: [collection(C1)], removed: [] });
    let settled = false;
    const acked = replica.writesSettled().then(() => { settled = true; });
    // A write begun under the new rules does not hold the ack back.
    const newer = replica.holdWrite();
    await Promise.resolve();
    expect(settled).toBe(false);
    older();
    older();
    await acked;
    expect(settled).toBe(true);
    newer();
    await replica.writesSettled();
  });
});
