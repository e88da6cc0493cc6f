import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, RemoteError, catalogCodeFor } from '../../../src/cli/api-client.js';
import { FerryError } from '../../../src/common/errors.js';
import { makeTestPki, sendJson, startFakeControl, type FakeControl, type TestPki } from './tls-fixture.js';

const EP = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const TOKEN = 'tok_abc-123.XYZ';

let pki: TestPki;
let control: FakeControl;
const clients: ApiClient[] = [];

function client(opts: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}): ApiClient {
  const c = new ApiClient({ url: control.url, token: TOKEN, ca: pki.caPem, ...opts });
  clients.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

beforeAll(async () => {
  pki = makeTestPki();
  control = await startFakeControl(pki, (_req, res) => sendJson(res, 500, { code: 'Unset', message: 'no handler' }));
});
afterAll(async () => { await control.close(); });
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  control.requests.length = 0;
});

const fileList = { DATA_TYPE: 'file_list', endpoint: EP, path: '/~/', absolute_path: null, length: 0, total: 0, DATA: [] };

describe('ApiClient requests', () => {
  it('sends the bearer token, Accept and query, and returns the parsed document', async () => {
    control.handle = (_req, res) => sendJson(res, 200, fileList);
    const doc = await client().ls(EP, { path: '/~/a b/', show_hidden: false, limit: 10, filter: ['name:~*.txt', 'type:file'] });
    expect(doc).toEqual(fileList);
    const [req] = control.requests;
    expect(req?.method).toBe('GET');
    expect(req?.url.pathname).toBe(`/v0.10/operation/endpoint/${EP}/ls`);
    expect(req?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req?.headers.accept).toBe('application/json');
    expect(req?.url.searchParams.get('path')).toBe('/~/a b/');
    expect(req?.url.searchParams.get('show_hidden')).toBe('false');
    expect(req?.url.searchParams.get('limit')).toBe('10');
    expect(req?.url.searchParams.getAll('filter')).toEqual(['name:~*.txt', 'type:file']);
    expect(req?.body).toBe('');
  });

  it('posts JSON bodies for mkdir and rename', async () => {
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'mkdir_result', code: 'DirectoryCreated', message: 'The directory was created successfully' });
    const c = client();
    const result = await c.mkdir(EP, '/~/new');
    expect(result.code).toBe('DirectoryCreated');
    await c.rename(EP, '/~/old', '/~/new');
    const [mk, rn] = control.requests;
    expect(mk?.method).toBe('POST');
    expect(mk?.url.pathname).toBe(`/v0.10/operation/endpoint/${EP}/mkdir`);
    expect(mk?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(mk?.body ?? '')).toEqual({ DATA_TYPE: 'mkdir', path: '/~/new' });
    expect(rn?.url.pathname).toBe(`/v0.10/operation/endpoint/${EP}/rename`);
    expect(JSON.parse(rn?.body ?? '')).toEqual({ DATA_TYPE: 'rename', old_path: '/~/old', new_path: '/~/new' });
  });

  it('maps the endpoint calls to the Globus routes', async () => {
    control.handle = (req, res) => {
      if (req.method === 'POST') sendJson(res, 201, { DATA_TYPE: 'endpoint_create_result', code: 'Created', id: EP, globus_connect_setup_key: 'ferry1_x', message: 'ok' });
      else if (req.method === 'DELETE') sendJson(res, 200, { DATA_TYPE: 'result', code: 'Deleted', message: 'Endpoint deleted successfully' });
      else if (req.url.pathname === '/v0.10/endpoint_search') sendJson(res, 200, { DATA_TYPE: 'endpoint_list', DATA: [], has_next_page: false });
      else sendJson(res, 200, { DATA_TYPE: 'endpoint', id: EP, display_name: 'x' });
    };
    const c = client();
    expect((await c.endpointCreate({ display_name: 'lab', is_globus_connect: true })).globus_connect_setup_key).toBe('ferry1_x');
    expect((await c.endpointGet(EP)).id).toBe(EP);
    expect((await c.endpointSearch({ filter_fulltext: 'lab', filter_scope: 'all', limit: 5 })).DATA).toEqual([]);
    expect((await c.endpointDelete(EP)).code).toBe('Deleted');
    const [create, get, search, del] = control.requests;
    expect(create?.url.pathname).toBe('/v0.10/endpoint');
    expect(JSON.parse(create?.body ?? '')).toEqual({ DATA_TYPE: 'endpoint', display_name: 'lab', is_globus_connect: true });
    expect(get?.url.pathname).toBe(`/v0.10/endpoint/${EP}`);
    expect(Object.fromEntries(search?.url.searchParams ?? [])).toEqual({ filter_fulltext: 'lab', filter_scope: 'all', limit: '5' });
    expect(del?.method).toBe('DELETE');
    expect(del?.url.pathname).toBe(`/v0.10/endpoint/${EP}`);
  });

  it('stat sends the path as a query parameter', async () => {
    const file = { DATA_TYPE: 'file', name: 'x.txt', type: 'file', size: 3, permissions: '0644' };
    control.handle = (_req, res) => sendJson(res, 200, file);
    expect(await client().stat(EP, '/~/x.txt')).toEqual(file);
    expect(control.requests[0]?.url.pathname).toBe(`/v0.10/operation/endpoint/${EP}/stat`);
    expect(control.requests[0]?.url.searchParams.get('path')).toBe('/~/x.txt');
  });

  it('keeps a path prefix of the base URL and encodes ids in paths', async () => {
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'endpoint', id: 'a/b', display_name: null });
    await client({ url: `${control.url}/prefix/` }).endpointGet('a/b?');
    expect(control.requests[0]?.url.pathname).toBe('/prefix/v0.10/endpoint/a%2Fb%3F');
  });

  it('omits Authorization without a token and reuses one keep-alive connection', async () => {
    let connections = 0;
    const onConn = (): void => { connections++; };
    control.server.on('secureConnection', onConn);
    control.handle = (_req, res) => sendJson(res, 200, { ok: true });
    const c = client({ token: undefined });
    await c.get('/v0.10/a');
    await c.get('/v0.10/b');
    control.server.off('secureConnection', onConn);
    expect(control.requests.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
    expect(connections).toBe(1);
  });
});

describe('ApiClient errors', () => {
  it('turns a Globus error document into a RemoteError that keeps the remote code', async () => {
    control.handle = (_req, res) => sendJson(res, 502, { code: 'ExternalError.MkdirFailed.Exists', message: 'Path already exists', request_id: 'oUAA6Sq2P', resource: `/operation/endpoint/${EP}/mkdir` });
    const err = await rejection(client().mkdir(EP, '/~/x'));
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toBeInstanceOf(FerryError);
    const e = err as RemoteError;
    expect(e.remoteCode).toBe('ExternalError.MkdirFailed.Exists');
    expect(e.code).toBe('ExternalError.MkdirFailed.Exists');
    expect(e.httpStatus).toBe(502);
    expect(e.message).toBe('Path already exists');
    expect(e.requestId).toBe('oUAA6Sq2P');
    expect(e.resource).toBe(`/operation/endpoint/${EP}/mkdir`);
  });

  it('keeps codes outside the catalog and maps them to the nearest catalog code', async () => {
    control.handle = (_req, res) => sendJson(res, 502, { code: 'ExternalError.DirListingFailed.LoginFailed', message: 'login denied', request_id: 'r', resource: '/x' });
    const e = await rejection(client().ls(EP)) as RemoteError;
    expect(e.remoteCode).toBe('ExternalError.DirListingFailed.LoginFailed');
    expect(e.code).toBe('InternalError');
    expect(catalogCodeFor('ExternalError.DirListingFailed.GCDisconnected', 502)).toBe('ExternalError.GCDisconnected');
    expect(catalogCodeFor('AccessRuleNotFound', 404)).toBe('AccessRuleNotFound');
    expect(catalogCodeFor('BookmarkNotFound', 404)).toBe('ClientError.NotFound');
    expect(catalogCodeFor('ConsentRequired', 403)).toBe('PermissionDenied');
    expect(catalogCodeFor('Weird', 418)).toBe('BadRequest');
  });

  it('reads the Auth API error form too', async () => {
    control.handle = (_req, res) => sendJson(res, 401, { errors: [{ status: '401', code: 'UNAUTHORIZED', detail: 'Call must be authenticated' }], error: 'unauthorized' });
    const e = await rejection(client().get('/v0.10/x')) as RemoteError;
    expect(e.remoteCode).toBe('UNAUTHORIZED');
    expect(e.code).toBe('ClientError.AuthenticationFailed');
    expect(e.message).toBe('Call must be authenticated');
  });

  it('reports a non-JSON error body by its HTTP status', async () => {
    control.handle = (_req, res) => { res.writeHead(503, { 'Content-Type': 'text/html' }); res.end('<h1>down for\n maintenance</h1>'); };
    const e = await rejection(client().get('/v0.10/x')) as RemoteError;
    expect(e.httpStatus).toBe(503);
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toContain('HTTP 503');
    expect(e.message).toContain('<h1>down for maintenance</h1>');
  });

  it('rejects a 2xx answer that is not JSON or has the wrong DATA_TYPE', async () => {
    control.handle = (_req, res) => { res.writeHead(200); res.end('hello'); };
    const notJson = await rejection(client().get('/v0.10/x')) as FerryError;
    expect(notJson.code).toBe('InternalError');
    expect(notJson.message).toContain('not JSON');
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'endpoint' });
    const wrongType = await rejection(client().ls(EP)) as FerryError;
    expect(wrongType.code).toBe('InternalError');
    expect(wrongType.message).toContain("'file_list'");
  });

  it('refuses a response larger than the limit', async () => {
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'x', pad: 'y'.repeat(10_000) });
    const e = await rejection(client({ maxResponseBytes: 1000 }).get('/v0.10/x')) as FerryError;
    expect(e.code).toBe('InternalError');
    expect(e.message).toContain('larger than 1000 bytes');
  });

  it('gives ServiceUnavailable when control does not answer in time', async () => {
    control.handle = () => { /* never answers */ };
    const e = await rejection(client({ timeoutMs: 200 }).get('/v0.10/slow')) as FerryError;
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toContain('within 200 ms');
  });

  it('gives ServiceUnavailable when nothing listens', async () => {
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const e = await rejection(client({ url: `https://127.0.0.1:${port}` }).get('/v0.10/x')) as FerryError;
    expect(e).toBeInstanceOf(FerryError);
    expect(e).not.toBeInstanceOf(RemoteError);
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toBe(`cannot reach control at https://127.0.0.1:${port}: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('gives ServiceUnavailable with a CA hint when the certificate does not verify', async () => {
    control.handle = (_req, res) => sendJson(res, 200, {});
    const other = makeTestPki('Other CA');
    const e = await rejection(client({ ca: other.caPem }).get('/v0.10/x')) as FerryError;
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toMatch(/cannot reach control at .*: \S*(CERT|SIGNATURE|ISSUER)\S* .*FERRY_CA/);
    expect(control.requests).toHaveLength(0);
  });

  it('validates the URL and token up front', () => {
    expect(() => new ApiClient({ url: 'http://127.0.0.1:1' })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    expect(() => new ApiClient({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    expect(() => new ApiClient({ url: 'https://127.0.0.1:1', token: 'a b' })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
  });
});
