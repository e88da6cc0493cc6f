import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { preparePrivateDbFile } from '../../../src/common/private-files.js';
import { openDatabase } from '../../../src/control/store/db.js';
import { SqliteMarkerStore } from '../../../src/transfer/markers/store.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-private-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mode = (f: string) => statSync(f).mode & 0o777;

describe('state databases are owner-only', () => {
  // The test process's umask (usually 022) would make new files 0644 without the fix.
  it('creates control.db and its -wal and -shm files 0600', () => {
    const file = join(dir, 'control.db');
    const db = openDatabase(file);
    try {
      db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)');
      expect(existsSync(`${file}-wal`) && existsSync(`${file}-shm`)).toBe(true);
      expect([mode(file), mode(`${file}-wal`), mode(`${file}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    } finally {
      db.close();
    }
  });

  it("creates the agent's state.db and its -wal and -shm files 0600", () => {
    const file = join(dir, 'state.db');
    const markers = new SqliteMarkerStore(file);
    try {
      expect(existsSync(`${file}-wal`) && existsSync(`${file}-shm`)).toBe(true);
      expect([mode(file), mode(`${file}-wal`), mode(`${file}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    } finally {
      markers.close();
    }
  });

  it('tightens a database an older version left readable by others', () => {
    const file = join(dir, 'old.db');
    writeFileSync(file, '');
    writeFileSync(`${file}-wal`, '');
    chmodSync(file, 0o644);
    chmodSync(`${file}-wal`, 0o664);
    preparePrivateDbFile(file);
    expect([mode(file), mode(`${file}-wal`)]).toEqual([0o600, 0o600]);
    preparePrivateDbFile(':memory:');
  });
});
