import { ApiClient, RemoteError } from '../../src/cli/api-client.js';
import type { ControlHandle } from './cluster.js';
import { ferryJson, headlessAuthorize, https, pkce } from '../integration/auth/helpers.js';

/** Helpers of the sharing suites: people with passwords and tokens of both kinds, and refusals by code. */

export const TRANSFER_SCOPE = 'urn:globus:auth:scope:transfer.api.globus.org:all';
export const GROUPS_SCOPE = 'urn:globus:auth:scope:groups.api.globus.org:all';
export const IDENTITIES_SCOPE = 'urn:globus:auth:scope:auth.globus.org:view_identities';
const REDIRECT = 'http://127.0.0.1:47199/callback';

export interface Person {
  username: string;
  password: string;
  identityId: string;
  /** An admin-minted personal token (Transfer scope). */
  token: string;
  client: ApiClient;
}

/** A local identity with a password and an admin-minted token. */
export async function person(control: ControlHandle, name: string): Promise<Person> {
  const username = `${name}@example.org`;
  const password = `${name}-password-1`;
  const made = await ferryJson<{ id: string }>(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', username, '--email', username, '--display-name', name, '--password-stdin'], `${password}\n`);
  const issued = await ferryJson<{ access_token: string }>(['control', 'token', 'issue', '--data-dir', control.dataDir, '--username', username, '--format', 'json']);
  return { username, password, identityId: made.id, token: issued.access_token, client: new ApiClient({ url: control.url, token: issued.access_token, ca: control.caPem }) };
}

/** Another admin-minted personal token of `who`, for one resource server (auth.globus.org, groups.api.globus.org). */
export async function personalToken(control: ControlHandle, who: Person, resourceServer: string): Promise<string> {
  return (await ferryJson<{ access_token: string }>(['control', 'token', 'issue', '--data-dir', control.dataDir, '--username', who.username, '--resource-server', resourceServer, '--format', 'json'])).access_token;
}

let publicClientId: string | undefined;

/** Tokens Ferry Auth issues through the authorization-code grant (PKCE, public client): one per resource server. */
export async function oauthTokens(control: ControlHandle, who: Person, scopes: string[]): Promise<Map<string, string>> {
  publicClientId ??= (await ferryJson<{ client: { id: string } }>(['control', 'client', 'create', '--data-dir', control.dataDir, '--name', 'sharing tests', '--public', '--redirect-uri', REDIRECT])).client.id;
  const p = pkce();
  const redirect = await headlessAuthorize({ url: control.url, ca: control.caPem, clientId: publicClientId, redirectUri: REDIRECT, scope: scopes.join(' '), username: who.username, password: who.password, challenge: p.challenge });
  const answer = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
    form: { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: publicClientId, code_verifier: p.verifier },
  });
  if (answer.status !== 200) throw new Error(`token exchange answered ${answer.status}: ${answer.body}`);
  const body = JSON.parse(answer.body) as { access_token: string; resource_server: string; other_tokens: Array<{ access_token: string; resource_server: string }> };
  const out = new Map<string, string>([[body.resource_server, body.access_token]]);
  for (const t of body.other_tokens) out.set(t.resource_server, t.access_token);
  return out;
}

/** The Globus code a refused call answered with (fails the test when the call succeeded). */
export async function refusal(call: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof RemoteError) return { code: err.remoteCode, status: err.httpStatus, message: err.message };
    throw err;
  }
  throw new Error('expected the call to be refused, and it succeeded');
}
