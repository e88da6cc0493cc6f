import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentRootConfig } from '../../../src/agent/config.js';
import { FerryError } from '../../../src/common/errors.js';
import { expect } from 'vitest';

/**
 * A real directory tree for policy and ops tests:
 *
 *   <base>/home            writable root, the default ('/~/')
 *   <base>/home/nested     read-only root nested in home (longest-match tests)
 *   <base>/home2           NOT a root (shares the 'home' prefix as a string)
 *   <base>/ro              read-only root
 *   <base>/outside         not a root; holds secret.txt and dir/
 *   <base>/real, <base>/linkroot -> real   a root configured through a symlink
 *
 * Inside home: file.txt, .hidden, dir/, esc -> outside (dir), secret-link -> outside/secret.txt,
 * in-link -> dir (relative), dangling -> outside/nothing, to-ro -> ../ro, link-nested -> nested.
 */
export interface Fixture {
  base: string;
  home: string;
  nested: string;
  home2: string;
  ro: string;
  outside: string;
  linkroot: string;
  real: string;
  roots: AgentRootConfig[];
  cleanup(): Promise<void>;
}

export async function makeFixture(): Promise<Fixture> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'ferry-agent-')));
  const home = join(base, 'home');
  const nested = join(home, 'nested');
  const home2 = join(base, 'home2');
  const ro = join(base, 'ro');
  const outside = join(base, 'outside');
  const real = join(base, 'real');
  const linkroot = join(base, 'linkroot');
  for (const d of [home, nested, home2, ro, outside, join(outside, 'dir'), real, join(home, 'dir')]) await mkdir(d, { recursive: true });
  await writeFile(join(outside, 'secret.txt'), 'secret');
  await writeFile(join(home, 'file.txt'), 'hello');
  await writeFile(join(home, '.hidden'), 'h');
  await writeFile(join(ro, 'r.txt'), 'r');
  await writeFile(join(real, 'inside.txt'), 'in');
  await symlink(real, linkroot);
  await symlink(outside, join(home, 'esc'));
  await symlink(join(outside, 'secret.txt'), join(home, 'secret-link'));
  await symlink('dir', join(home, 'in-link'));
  await symlink(join(outside, 'nothing'), join(home, 'dangling'));
  await symlink('../ro', join(home, 'to-ro'));
  await symlink('nested', join(home, 'link-nested'));
  const roots: AgentRootConfig[] = [
    { path: home, writable: true, sharing: true },
    { path: nested, writable: false, sharing: false },
    { path: ro, writable: false, sharing: false },
    { path: linkroot, writable: true, sharing: false },
  ];
  return { base, home, nested, home2, ro, outside, linkroot, real, roots, cleanup: () => rm(base, { recursive: true, force: true }) };
}

/** Await `p`, expect it to reject with a FerryError of `code`, and return that error. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<FerryError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected rejection with ${code}`).toBeInstanceOf(FerryError);
  expect((caught as FerryError).code).toBe(code);
  return caught as FerryError;
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
