import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRemoteError, type ApiClient } from '../../src/cli/api-client.js';
import { startControl, tempDir, type ControlHandle } from '../helpers/cluster.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { runFerry } from '../helpers/process.js';

/** Raw HTTPS call, for requests the typed client would never send. */
function raw(control: ControlHandle, method: string, path: string, opts: { token?: string; body?: string; contentType?: string; auth?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    if (opts.auth !== undefined) headers['authorization'] = opts.auth;
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const req = request(new URL(path, control.url), { method, ca: control.caPem, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }); } catch (err) { reject(new Error(`not JSON (${res.statusCode}): ${text}`)); }
      });
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

describe('control REST API', () => {
  const dir = tempDir();
  let control: ControlHandle;
  let alice: { token: string; client: ApiClient; identityId: string };
  let bob: { token: string; client: ApiClient; identityId: string };

  beforeAll(async () => {
    control = await startControl(join(dir.path, 'control'));
    alice = await control.user('alice@example.org');
    bob = await control.user('bob@example.org');
  });
  afterAll(async () => {
    await control?.stop();
    dir.cleanup();
  });

  it('creates its CA with a private key only the owner can read, and prints the fingerprint', () => {
    expect(statSync(join(control.dataDir, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(control.dataDir, 'pki', 'server.key')).mode & 0o777).toBe(0o600);
    expect(control.proc.stdout()).toMatch(/CA SHA-256 fingerprint: [0-9a-f]{64}/);
  });

  it('refuses missing, unknown and malformed tokens with 401 in the Globus error shape', async () => {
    for (const auth of [undefined, 'Bearer nope-not-a-real-token-xxxxxxxx', 'Basic abc', 'Bearer', 'Bearer a b', 'Bearer \u00e9\u00e9\u00e9']) {
      const res = await raw(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints', auth === undefined ? {} : { auth: auth.replace(/[^\x20-\x7e]/g, '?') });
      expect(res.status).toBe(401);
      expect(res.json['code']).toBe('ClientError.AuthenticationFailed');
      expect(typeof res.json['request_id']).toBe('string');
      expect(res.json['resource']).toBe('/v0.10/endpoint_search');
    }
  });

  it('refuses a token once it has expired', async () => {
    const issued = await runFerry(['control', 'token', 'issue', '--data-dir', control.dataDir, '--username', 'alice@example.org', '--expires-in', '1']);
    const token = issued.stdout.trim();
    // Valid first; then poll (bounded by the test timeout) until the expiry passes.
    let res = await raw(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints', { token });
    while (res.status === 200) {
      await new Promise((r) => setTimeout(r, 100));
      res = await raw(control, 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints', { token });
    }
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ code: 'ClientError.AuthenticationFailed', message: 'Token is expired' });
  });

  it('never logs tokens', () => {
    expect(control.proc.stderr()).not.toContain(alice.token);
  });

  it('creates, shows, searches and deletes endpoints', async () => {
    const created = await alice.client.endpointCreate({ display_name: 'Alice Lab Store', description: 'microscopy' });
    expect(created.code).toBe('Created');
    expect(created.globus_connect_setup_key).toMatch(/^ferry1_/);
    const doc = await alice.client.endpointGet(created.id);
    expect(doc).toMatchObject({ DATA_TYPE: 'endpoint', id: created.id, display_name: 'Alice Lab Store', owner_id: alice.identityId, gcp_connected: false, is_globus_connect: true });
    const mine = await alice.client.endpointSearch({ filter_scope: 'my-endpoints', filter_fulltext: 'lab' });
    expect(mine.DATA.map((e) => e.id)).toContain(created.id);
    const bobs = await bob.client.endpointSearch({ filter_scope: 'my-endpoints' });
    expect(bobs.DATA).toHaveLength(0);
    const all = await bob.client.endpointSearch({ filter_scope: 'all', filter_fulltext: 'Alice' });
    expect(all.DATA).toHaveLength(0); // private endpoint: invisible to others
    await expect(bob.client.endpointGet(created.id)).rejects.toMatchObject({ remoteCode: 'EndpointNotFound' });
    await expect(bob.client.endpointDelete(created.id)).rejects.toMatchObject({ remoteCode: 'EndpointNotFound' });
    const deleted = await alice.client.endpointDelete(created.id);
    expect(deleted.code).toBe('Deleted');
    await expect(alice.client.endpointGet(created.id)).rejects.toMatchObject({ remoteCode: 'EndpointDeleted', httpStatus: 404 });
  });

  it('rejects bad input with stable codes', async () => {
    const t = alice.token;
    const malformed = await raw(control, 'POST', '/v0.10/endpoint', { token: t, body: '{"display_name": ' });
    expect([malformed.status, malformed.json['code']]).toEqual([400, 'ClientError.BadRequest']);
    const wrongType = await raw(control, 'POST', '/v0.10/endpoint', { token: t, body: JSON.stringify({ DATA_TYPE: 'transfer', display_name: 'x' }) });
    expect([wrongType.status, wrongType.json['code']]).toEqual([400, 'ClientError.BadRequest']);
    expect(String(wrongType.json['message'])).toContain('DATA_TYPE');
    const missing = await raw(control, 'POST', '/v0.10/endpoint', { token: t, body: '{}' });
    expect(missing.json['code']).toBe('ClientError.BadRequest');
    const notJson = await raw(control, 'POST', '/v0.10/endpoint', { token: t, body: 'display_name=x', contentType: 'text/plain' });
    expect(notJson.json['code']).toBe('ClientError.BadRequest');
    const unknownEp = await raw(control, 'GET', '/v0.10/endpoint/0b5e6a43-0000-4000-8000-000000000000', { token: t });
    expect([unknownEp.status, unknownEp.json['code']]).toEqual([404, 'EndpointNotFound']);
    const notUuid = await raw(control, 'GET', '/v0.10/endpoint/../../etc', { token: t });
    expect(notUuid.status).toBe(404);
    const badRoute = await raw(control, 'GET', '/v0.10/no_such_thing', { token: t });
    expect([badRoute.status, badRoute.json['code']]).toEqual([404, 'ClientError.NotFound']);
    const badMethod = await raw(control, 'PATCH', '/v0.10/endpoint_search', { token: t });
    expect([badMethod.status, badMethod.json['code']]).toEqual([405, 'ClientError.BadMethod']);
    const scope = await raw(control, 'GET', '/v0.10/endpoint_search?filter_scope=everything', { token: t });
    expect(scope.json['code']).toBe('ClientError.BadRequest');
    const allNoText = await raw(control, 'GET', '/v0.10/endpoint_search?filter_scope=all', { token: t });
    expect(allNoText.json['code']).toBe('ClientError.BadRequest');
    const huge = await raw(control, 'POST', '/v0.10/endpoint', { token: t, body: JSON.stringify({ display_name: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
  });

  it('answers file operations on an endpoint with no agent fast, with a clear error', async () => {
    const created = await alice.client.endpointCreate({ display_name: 'offline endpoint' });
    const err = await alice.client.ls(created.id, { path: '/~/' }).catch((e: unknown) => e);
    expect(isRemoteError(err)).toBe(true);
    expect(err).toMatchObject({ remoteCode: 'ExternalError.DirListingFailed.GCDisconnected', httpStatus: 502 });
  });
});

describe('browser clients', () => {
  const dir = tempDir();
  let control: ControlHandle;
  beforeAll(async () => { control = await startControl(join(dir.path, 'control')); });
  afterAll(async () => { await control?.stop(); dir.cleanup(); });

  it('answers the CORS preflight that @globus/sdk triggers in a browser', async () => {
    const res = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request(new URL('/v0.10/endpoint_search', control.url), {
        method: 'OPTIONS', ca: control.caPem,
        headers: { origin: 'https://app.example.org', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,x-globus-client-info' },
      }, (r) => { r.resume(); r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers })); });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(String(res.headers['access-control-allow-headers'])).toContain('x-globus-client-info');
  });
});
