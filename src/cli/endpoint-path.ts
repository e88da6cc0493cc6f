import { FerryError } from '../common/errors.js';
import { isUuid } from '../common/ids.js';
import { MAX_PATH_BYTES } from '../protocol/limits.js';

/**
 * The `ENDPOINT_ID:PATH` argument form of the file commands (as in the Globus CLI): an
 * endpoint UUID, a colon, and a path on that endpoint. `/~/` is the endpoint's default
 * directory, and is what an empty path means.
 */

export const DEFAULT_DIRECTORY = '/~/';

export interface EndpointPath {
  endpointId: string;
  path: string;
}

export const ENDPOINT_PATH_HELP =
  'ENDPOINT_ID:PATH names a path on an endpoint: the endpoint\'s UUID, a colon, then an absolute\n' +
  'path. /~/ is the endpoint\'s default directory (its first root), so ID:/~/data is "data" in\n' +
  'that directory; ID: alone means ID:/~/.';

export interface ParseEndpointPathOptions {
  /** mkdir, rename and stat need a real path, not just the endpoint's default directory. */
  requirePath?: boolean;
}

/** Parse `ENDPOINT_ID:PATH`; throws FerryError('ClientError.BadRequest…') with a readable reason. */
export function parseEndpointPath(arg: string, opts: ParseEndpointPathOptions = {}): EndpointPath {
  const colon = arg.indexOf(':');
  const idPart = colon === -1 ? arg : arg.slice(0, colon);
  const pathPart = colon === -1 ? '' : arg.slice(colon + 1);
  if (!isUuid(idPart)) {
    const why = idPart === '' ? 'the endpoint ID is missing' : `'${idPart}' is not an endpoint ID (a UUID)`;
    throw new FerryError('ClientError.BadRequest', `${why}; expected ENDPOINT_ID:PATH, e.g. 2f4e7a3c-0d5b-4b8e-9c4a-1e2f3a4b5c6d:/~/data`);
  }
  if (pathPart === '' && opts.requirePath) {
    throw new FerryError('ClientError.BadRequest.InvalidPath', `'${arg}' names no path; expected ENDPOINT_ID:PATH, e.g. ${idPart}:/~/data`);
  }
  return { endpointId: idPart.toLowerCase(), path: normalizePath(pathPart === '' ? DEFAULT_DIRECTORY : pathPart) };
}

/**
 * Check a path given on its own (rename's NEWPATH). `~` and `~/x` are accepted as shorthand
 * for `/~/` and `/~/x`, since users type them out of shell habit.
 */
export function normalizePath(path: string): string {
  let p = path;
  if (p === '~') p = DEFAULT_DIRECTORY;
  else if (p.startsWith('~/')) p = `/${p}`;
  if (p.includes('\0')) throw new FerryError('ClientError.BadRequest.InvalidPath', 'the path contains a NUL byte');
  if (Buffer.byteLength(p, 'utf8') > MAX_PATH_BYTES) {
    throw new FerryError('ClientError.BadRequest.InvalidPath', `the path is longer than ${MAX_PATH_BYTES} bytes`);
  }
  if (!p.startsWith('/')) {
    throw new FerryError('ClientError.BadRequest.InvalidPath',
      `'${path}' is not absolute; start it with / or with /~/ for the endpoint's default directory (e.g. /~/${path})`);
  }
  return p;
}
