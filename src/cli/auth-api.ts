import { request } from 'node:https';
import { FerryError, isFerryError } from '../common/errors.js';
import { isUuid } from '../common/ids.js';
import { readCaFile } from './client-config.js';
import { readAuthFile } from './commands/login.js';

/**
 * Calls to Ferry Auth and Groups (Globus Auth v2 and Groups v2 shapes) with the tokens that
 * `ferry login` keeps in $FERRY_HOME/auth.json: `ferry group …` and the username lookups of
 * `ferry acl …` / `ferry role …`. The Transfer API goes through ApiClient instead.
 */

const AUTH_RS = 'auth.globus.org';
/** Auth answers at most this many identities per lookup. */
const IDENTITIES_PER_LOOKUP = 100;

export function authCall(method: string, path: string, body?: unknown, rs = 'groups.api.globus.org'): Promise<any> {
  const a = readAuthFile();
  const t = a?.tokens[rs];
  if (!a || !t) throw new FerryError('ClientError.AuthenticationFailed', 'not logged in with Ferry Auth; run `ferry login`');
  const ca = readCaFile(a.caFile);
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${t.access_token}`, accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const req = request(`${a.url}${path}`, { method, headers, ...(ca ? { ca } : {}), timeout: 30_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => {
        let doc: any = null;
        try { doc = text ? JSON.parse(text) : null; } catch { doc = { error_description: text }; }
        if ((res.statusCode ?? 500) >= 400) {
          const code = res.statusCode === 404 ? 'ClientError.NotFound' : res.statusCode === 403 ? 'PermissionDenied' : res.statusCode === 401 ? 'ClientError.AuthenticationFailed' : 'ClientError.BadRequest';
          reject(new FerryError(code, String(doc?.error_description ?? doc?.errors?.[0]?.detail ?? `HTTP ${res.statusCode}`)));
        } else resolve(doc);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new FerryError('ServiceUnavailable', `cannot reach control: ${err.message}`)));
    req.end(payload);
  });
}

/** The identity id Auth has for `username`; ClientError.NotFound when there is none. */
async function lookupUsername(username: string): Promise<string> {
  const doc = await authCall('GET', `/v2/api/identities?usernames=${encodeURIComponent(username)}`, undefined, AUTH_RS) as { identities: Array<{ id: string }> };
  const id = doc.identities[0]?.id;
  if (!id) throw new FerryError('ClientError.NotFound', `no identity with username '${username}'`);
  return id;
}

/** An identity id, or a username looked up through Auth. */
export async function identityId(who: string): Promise<string> {
  if (/^[0-9a-f-]{36}$/i.test(who)) return who;
  return lookupUsername(who);
}

/** Turns usernames into identity ids and back; the commands take one so tests can pass their own. */
export interface IdentityLookup {
  /** The identity id of `username`; ClientError.NotFound when Auth knows no such username. */
  idOf(username: string): Promise<string>;
  /** Usernames of the ids Auth knows; an empty map when the caller is not logged in (best effort, for display). */
  usernamesOf(ids: readonly string[]): Promise<Map<string, string>>;
}

/** Whether `ferry login` left an Auth token to look identities up with. */
function loggedIn(): boolean {
  return readAuthFile()?.tokens[AUTH_RS] !== undefined;
}

export const authIdentityLookup: IdentityLookup = {
  async idOf(username) {
    if (!loggedIn()) {
      throw new FerryError('ClientError.AuthenticationFailed',
        `looking up the username '${username}' needs a Ferry Auth sign-in: run \`ferry login\`, or give the identity's UUID instead`);
    }
    const id = await lookupUsername(username);
    if (!isUuid(id)) throw new FerryError('InternalError', `Auth answered the lookup of '${username}' with the id '${id}', which is not a UUID`);
    return id.toLowerCase();
  },

  async usernamesOf(ids) {
    const names = new Map<string, string>();
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0 || !loggedIn()) return names;
    for (let i = 0; i < wanted.length; i += IDENTITIES_PER_LOOKUP) {
      const batch = wanted.slice(i, i + IDENTITIES_PER_LOOKUP);
      let doc: { identities?: Array<{ id?: unknown; username?: unknown }> };
      try {
        doc = await authCall('GET', `/v2/api/identities?ids=${batch.map(encodeURIComponent).join(',')}`, undefined, AUTH_RS);
      } catch (err) {
        // Display only: ids stand in for the names Auth would not give.
        if (isFerryError(err)) return names;
        throw err;
      }
      for (const ident of doc?.identities ?? []) {
        if (typeof ident.id === 'string' && typeof ident.username === 'string') names.set(ident.id.toLowerCase(), ident.username);
      }
    }
    return names;
  },
};
