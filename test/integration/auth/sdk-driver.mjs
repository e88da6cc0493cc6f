// Drives Ferry Auth, Groups and then Transfer with the unchanged @globus/sdk, as a Globus app
// would. Run as a child process with:
//   GLOBUS_SDK_SERVICE_URL_AUTH / _TRANSFER / _GROUPS = control's origin
//   NODE_EXTRA_CA_CERTS = control's CA (read when node starts)
//   FERRY_AUTH_PLAN = JSON {cc: {id, secret}, pub: {id}, code, verifier, redirect, username,
//                           rs: {id, secret}, rsCode, rsVerifier}
// Prints one JSON line per call: {step, status, ok, body}. Exit 0 when every call answered.
import { auth, groups, transfer } from '@globus/sdk';

const plan = JSON.parse(process.env.FERRY_AUTH_PLAN ?? '{}');
const opts = () => ({ fetch: { options: { signal: AbortSignal.timeout(20_000) } } });
const basic = (c) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;
const bearer = (t) => ({ Authorization: `Bearer ${t}` });

async function run(step, call) {
  const res = await call();
  const text = await res.text();
  let body = null;
  try { body = text === '' ? null : JSON.parse(text); } catch { body = { text }; }
  process.stdout.write(`${JSON.stringify({ step, status: res.status, ok: res.ok, body })}\n`);
  return body;
}

const T = 'urn:globus:auth:scope:transfer.api.globus.org:all';
const VIEW = 'urn:globus:auth:scope:auth.globus.org:view_identities';
const G = 'urn:globus:auth:scope:groups.api.globus.org:all';
const tokenFor = (doc, rs) => [doc, ...(doc.other_tokens ?? [])].find((t) => t.resource_server === rs);

async function main() {
  // Client credentials: the client acts as its own identity.
  const cc = await run('cc', () => auth.oauth2.token.token({
    payload: { grant_type: 'client_credentials', scope: `${T} ${VIEW} openid` }, headers: { Authorization: basic(plan.cc) },
  }, opts()));
  const ccTransfer = tokenFor(cc, 'transfer.api.globus.org').access_token;
  await run('cc.introspect', () => auth.oauth2.token.introspect({
    payload: { token: ccTransfer, include: 'identity_set,identity_set_detail' }, headers: { Authorization: basic(plan.cc) },
  }, opts()));
  await run('cc.wrongSecret', () => auth.oauth2.token.token({
    payload: { grant_type: 'client_credentials', scope: T }, headers: { Authorization: basic({ id: plan.cc.id, secret: 'nope' }) },
  }, opts()));
  await run('cc.transfer.endpointSearch', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(ccTransfer) }, opts()));

  // Authorization code (obtained through the login and consent pages) exchanged with PKCE.
  const code = await run('exchange', () => auth.oauth2.token.exchange({
    payload: { grant_type: 'authorization_code', code: plan.code, redirect_uri: plan.redirect, client_id: plan.pub.id, code_verifier: plan.verifier },
  }, opts()));
  await run('exchange.again', () => auth.oauth2.token.exchange({
    payload: { grant_type: 'authorization_code', code: plan.code2, redirect_uri: plan.redirect, client_id: plan.pub.id, code_verifier: 'x'.repeat(43) },
  }, opts()));
  const authTok = tokenFor(code, 'auth.globus.org');
  const transferTok = tokenFor(code, 'transfer.api.globus.org');
  const groupsTok = tokenFor(code, 'groups.api.globus.org');
  await run('validate', () => auth.oauth2.token.validate({ payload: { token: transferTok.access_token, client_id: plan.pub.id } }, opts()));
  await run('userinfo', () => auth.oauth2.userinfo({ headers: bearer(authTok.access_token) }, opts()));
  await run('identities.byUsername', () => auth.identities.getAll({ query: { usernames: `${plan.username},nobody@nowhere` }, headers: bearer(authTok.access_token) }, opts()));
  const me = await run('identities.byUsername.self', () => auth.identities.getAll({ query: { usernames: plan.username }, headers: bearer(authTok.access_token) }, opts()));
  await run('identities.get', () => auth.identities.get(me.identities[0].id, { headers: bearer(authTok.access_token) }, opts()));
  await run('transfer.withUserToken', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(transferTok.access_token) }, opts()));
  await run('transfer.withAuthToken', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(authTok.access_token) }, opts()));

  // Refresh (rotated), then reuse of the old refresh token revokes the family.
  const refreshed = await run('refresh', () => auth.oauth2.token.refresh({
    payload: { grant_type: 'refresh_token', refresh_token: transferTok.refresh_token, client_id: plan.pub.id },
  }, opts()));
  await run('transfer.refreshed', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(refreshed.access_token) }, opts()));

  // Groups with the user's groups token.
  const g = await run('groups.create', () => groups.groups.create({ payload: { name: 'sdk group', description: 'made by the SDK' }, headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.act.add', () => groups.membership.act(g.id, { payload: { add: [{ identity_id: plan.ccId ?? plan.cc.id, role: 'member' }] }, headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.policies.update', () => groups.policies.update(g.id, { payload: { group_visibility: 'authenticated', group_members_visibility: 'members', join_requests: false, signup_fields: [], authentication_assurance_timeout: 28800, is_high_assurance: false }, headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.policies.get', () => groups.policies.get(g.id, { headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.update', () => groups.groups.update(g.id, { payload: { name: 'sdk group renamed', description: 'renamed' }, headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.get', () => groups.groups.get(g.id, { query: { include: 'memberships' }, headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.myGroups', () => groups.groups.getMyGroups({ headers: bearer(groupsTok.access_token) }, opts()));
  await run('groups.delete', () => groups.groups.remove(g.id, { headers: bearer(groupsTok.access_token) }, opts()));

  // Dependent tokens: the resource-server client trades the user's token for a Transfer token.
  const rsDoc = await run('rs.exchange', () => auth.oauth2.token.exchange({
    payload: { grant_type: 'authorization_code', code: plan.rsCode, redirect_uri: plan.redirect, client_id: plan.pub.id, code_verifier: plan.rsVerifier },
  }, opts()));
  const deps = await run('dependent', () => auth.oauth2.token.token({
    payload: { grant_type: 'urn:globus:auth:grant_type:dependent_token', token: rsDoc.access_token, access_type: 'offline' }, headers: { Authorization: basic(plan.rs) },
  }, opts()));
  await run('transfer.dependent', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(deps[0].access_token) }, opts()));

  // Revoke: the token stops working at Transfer and introspects inactive.
  await run('revoke', () => auth.oauth2.token.revoke({ payload: { token: refreshed.access_token, client_id: plan.pub.id } }, opts()));
  await run('transfer.revoked', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(refreshed.access_token) }, opts()));
  await run('refresh.reuse', () => auth.oauth2.token.refresh({
    payload: { grant_type: 'refresh_token', refresh_token: transferTok.refresh_token, client_id: plan.pub.id },
  }, opts()));
  await run('transfer.afterReuse', () => transfer.endpointSearch({ query: { filter_scope: 'my-endpoints' }, headers: bearer(transferTok.access_token) }, opts()));
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
