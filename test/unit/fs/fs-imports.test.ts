import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Issue 10, point 1: the agent's file-system calls on user data go through the
 * descriptor-relative module (src/fs). This keeps it so: in src/agent and src/transfer, node:fs
 * may only be imported for its constants and types, for calls on descriptors the raw layer
 * opened, or by the files named below, each for the reason given. A new path-based call on
 * user data fails here until it moves to src/fs or is argued for in this list.
 */

const REPO = join(import.meta.dirname, '..', '..', '..');

/** Bindings any file may import: no file-system access by path. */
const ALWAYS = new Set(['constants', 'Stats', 'type Stats', 'Dirent', 'type Dirent']);

/** Calls on a descriptor already open (never a path), allowed through a default `fs` import. */
const FD_CALLS = new Set(['read', 'readSync', 'write', 'writeSync', 'fstat', 'fstatSync', 'fsync', 'fsyncSync', 'fdatasync', 'fdatasyncSync',
  'close', 'closeSync', 'ftruncate', 'ftruncateSync', 'fchmod', 'fchmodSync', 'futimes', 'futimesSync', 'constants']);

/** file → the node:fs bindings it may import, and why. */
const EXCEPTIONS: Record<string, { names: string[]; why: string }> = {
  'src/agent/daemon.ts': { names: ['readFileSync'], why: "the agent's own config and key files, not user data" },
  'src/agent/setup.ts': { names: ['existsSync', 'mkdirSync', 'writeFileSync'], why: "writes the agent's own config at setup" },
  'src/agent/ops/owners.ts': { names: ['readFile'], why: 'reads /etc/passwd and /etc/group for owner names' },
  'src/agent/policy/walk.ts': { names: ['lstat', 'realpath'], why: 'where a path leads, for the policy decision; every access then walks from the root by descriptor and checks dev/inode' },
  'src/transfer/session/walk.ts': { names: ['realpath', 'stat', 'type Stats'], why: "the item's top, after the resolver checked it; adoptContained then pins it by descriptor inside the root" },
  'src/transfer/chunks/partial-file.ts': { names: ['open', 'unlink', 'type FileHandle'], why: 'open: /proc/self/fd/N of a descriptor the raw layer opened (same inode, O_DIRECT); unlink: the default that destination.ts replaces with a descriptor-relative one' },
  'src/transfer/workers/io-pool.ts': { names: ['existsSync'], why: "finds the worker's own script" },
  'src/transfer/workers/syncfs-trust.ts': { names: ['statfsSync'], why: "the file system type of /proc/self/fd/N, a directory descriptor the raw layer opened (Node has no fstatfs)" },
  'src/transfer/util/aligned-buffers.ts': { names: ['readFileSync'], why: 'reads /proc/self/limits (the address-space limit), not user data' },
};

function tsFiles(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => relative(REPO, join(d.parentPath, d.name)));
}

function fsImports(source: string): { names: string[]; defaultName: string | null } {
  const names: string[] = [];
  let defaultName: string | null = null;
  for (const m of source.matchAll(/import\s+(type\s+)?([^;]*?)\s+from\s+'(?:node:)?fs(?:\/promises)?'/g)) {
    const clause = m[2]!;
    const named = /\{([^}]*)\}/.exec(clause);
    if (named) for (const n of named[1]!.split(',').map((s) => s.trim()).filter(Boolean)) names.push(m[1] ? `type ${n}` : n);
    const def = /^([A-Za-z_$][\w$]*)/.exec(clause.replace(/^type\s+/, ''));
    if (def && !clause.startsWith('{')) defaultName = def[1]!;
  }
  return { names, defaultName };
}

describe('node:fs in the agent and the engine', () => {
  const files = [...tsFiles('src/agent'), ...tsFiles('src/transfer')];

  it('finds the files it guards', () => {
    expect(files.length).toBeGreaterThan(50);
    for (const f of Object.keys(EXCEPTIONS)) expect(files, `${f} is listed but gone: drop it from EXCEPTIONS`).toContain(f);
  });

  it('uses node:fs only for constants, calls on descriptors, or a listed reason', () => {
    const violations: string[] = [];
    for (const file of files) {
      const source = readFileSync(join(REPO, file), 'utf8');
      const { names, defaultName } = fsImports(source);
      const allowed = new Set(EXCEPTIONS[file]?.names ?? []);
      for (const n of names) if (!ALWAYS.has(n) && !allowed.has(n)) violations.push(`${file} imports ${n} from node:fs`);
      if (defaultName) {
        for (const m of source.matchAll(new RegExp(`\\b${defaultName}\\.(\\w+)`, 'g'))) {
          if (!FD_CALLS.has(m[1]!)) violations.push(`${file} calls ${defaultName}.${m[1]!}, not a call on a descriptor`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('notices a path-based call (the check can fail)', () => {
    expect(fsImports("import { readFile, constants } from 'node:fs/promises';").names).toEqual(['readFile', 'constants']);
    expect(fsImports("import fs from 'node:fs';").defaultName).toBe('fs');
    expect(fsImports("import type { Stats } from 'node:fs';").names).toEqual(['type Stats']);
  });
});
