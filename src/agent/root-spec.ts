import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { FerryError } from '../common/errors.js';
import type { AgentRootConfig } from './config.js';

const FLAGS = new Set(['rw', 'ro', 'share']);

/**
 * Parse a `--root PATH[:rw|:ro][:share]` argument. Flags are taken from the end so paths
 * containing ':' still work; `~` expands to the home directory; default is read-only.
 */
export function parseRootSpec(spec: string): AgentRootConfig {
  const parts = spec.split(':');
  let writable = false;
  let sharing = false;
  while (parts.length > 1 && FLAGS.has(parts[parts.length - 1]!)) {
    const flag = parts.pop()!;
    if (flag === 'rw') writable = true;
    else if (flag === 'ro') writable = false;
    else sharing = true;
  }
  let path = parts.join(':');
  if (path === '~' || path.startsWith('~/')) path = homedir() + path.slice(1);
  if (path === '' || !isAbsolute(path)) {
    throw new FerryError('Config.Invalid', `--root ${spec}: the path must be absolute (or start with ~)`);
  }
  if (path.includes('\0')) throw new FerryError('Config.Invalid', `--root ${spec}: the path contains a NUL byte`);
  path = resolve(path);
  return { path, writable, sharing };
}
