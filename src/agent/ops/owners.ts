import { readFile } from 'node:fs/promises';

/**
 * User and group names for file documents, read from /etc/passwd and /etc/group (not NSS:
 * Node has no getpwuid, and spawning `id` per file would be absurd). Ids not found there —
 * LDAP users, deleted accounts — are shown as numbers, as `ls -l` does.
 *
 * The tables are loaded once and reloaded on a miss at most every `refreshMs`, so a user
 * added while the agent runs shows up without a restart and a listing full of unknown ids
 * costs one reload, not one per file.
 */

export interface OwnerNames {
  user(uid: number): Promise<string>;
  group(gid: number): Promise<string>;
}

export interface OwnerNamesInit {
  passwdFile?: string;
  groupFile?: string;
  refreshMs?: number;
  now?: () => number;
}

export const DEFAULT_OWNER_REFRESH_MS = 60_000;

interface Tables {
  users: Map<number, string>;
  groups: Map<number, string>;
}

/** Parse `name:x:id:...` lines (the format of both files); the first name for an id wins. */
export function parseIdFile(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const name = fields[0];
    const id = Number(fields[2]);
    if (!name || fields[2] === undefined || fields[2] === '' || !Number.isInteger(id) || id < 0) continue;
    if (!out.has(id)) out.set(id, name);
  }
  return out;
}

async function readIdFile(file: string): Promise<Map<number, string>> {
  try {
    return parseIdFile(await readFile(file, 'utf8'));
  } catch {
    // A missing or unreadable table only costs names; numbers are still correct.
    return new Map();
  }
}

export function createOwnerNames(init: OwnerNamesInit = {}): OwnerNames {
  const passwdFile = init.passwdFile ?? '/etc/passwd';
  const groupFile = init.groupFile ?? '/etc/group';
  const refreshMs = init.refreshMs ?? DEFAULT_OWNER_REFRESH_MS;
  const now = init.now ?? Date.now;

  let tables: Tables | undefined;
  let loadedAt = -Infinity;
  let loading: Promise<Tables> | undefined;

  function load(): Promise<Tables> {
    // One load at a time: a listing asks for hundreds of names at once.
    loading ??= (async () => {
      try {
        const [users, groups] = await Promise.all([readIdFile(passwdFile), readIdFile(groupFile)]);
        tables = { users, groups };
        loadedAt = now();
        return tables;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  async function lookup(kind: keyof Tables, id: number): Promise<string> {
    let t = tables ?? (await load());
    let name = t[kind].get(id);
    if (name === undefined && now() - loadedAt >= refreshMs) {
      t = await load();
      name = t[kind].get(id);
    }
    return name ?? String(id);
  }

  return {
    user: (uid) => lookup('users', uid),
    group: (gid) => lookup('groups', gid),
  };
}
