import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, RemoteError } from '../../../src/cli/api-client.js';
import { registerEndpointCommands } from '../../../src/cli/commands/endpoint.js';
import { registerFileCommands } from '../../../src/cli/commands/files.js';
import { makeTestPki, sendJson, startFakeControl, type FakeControl, type TestPki } from './tls-fixture.js';

const EP = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
let pki: TestPki;
let control: FakeControl;

beforeAll(async () => {
  pki = makeTestPki();
  control = await startFakeControl(pki, (_req, res) => sendJson(res, 500, { code: 'InternalError', message: 'no handler' }));
});
afterAll(async () => { await control.close(); });
afterEach(() => { control.requests.length = 0; });

interface Run { out: string; err: string; error: unknown }

/** Runs `ferry ARGS` the way main.ts does, against the fake control, capturing all output. */
async function ferry(...args: string[]): Promise<Run> {
  const run: Run = { out: '', err: '', error: undefined };
  const program = new Command().name('ferry').exitOverride()
    .configureOutput({ writeOut: (s) => { run.out += s; }, writeErr: (s) => { run.err += s; } });
  const deps = {
    connect: () => new ApiClient({ url: control.url, token: 'tok', ca: pki.caPem }),
    io: { out: (s: string) => { run.out += s; }, err: (s: string) => { run.err += s; } },
  };
  registerFileCommands(program, deps);
  registerEndpointCommands(program, deps);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    run.error = err;
  }
  return run;
}

const aFile = { DATA_TYPE: 'file', name: 'a.txt', type: 'file', link_target: null, size: 5, last_modified: '2024-01-02 03:04:05+00:00', permissions: '0640', user: 'u', group: 'g', link_size: null, link_user: null, link_group: null, link_last_modified: null };
const listing = { DATA_TYPE: 'file_list', endpoint: EP, path: '/~/', absolute_path: null, length: 2, total: 2, DATA: [aFile, { ...aFile, name: 'sub', type: 'dir', permissions: '0750' }] };

describe('file commands', () => {
  it('ls prints names and asks control to hide dot files unless -a', async () => {
    control.handle = (_req, res) => sendJson(res, 200, listing);
    const plain = await ferry('ls', `${EP}:`);
    expect(plain.error).toBeUndefined();
    expect(plain.out).toBe('a.txt\nsub/\n');
    expect(control.requests[0]?.url.searchParams.get('path')).toBe('/~/');
    expect(control.requests[0]?.url.searchParams.get('show_hidden')).toBe('false');
    const all = await ferry('ls', '-la', `${EP}:/~/sub`);
    expect(all.out).toBe('-rw-r-----  u  g  5  2024-01-02 03:04  a.txt\ndrwxr-x---  u  g  5  2024-01-02 03:04  sub/\n');
    expect(control.requests[1]?.url.searchParams.get('show_hidden')).toBe('true');
    expect(control.requests[1]?.url.searchParams.get('path')).toBe('/~/sub');
    const json = await ferry('ls', '--format', 'json', `${EP}:/~/`);
    expect(JSON.parse(json.out)).toEqual(listing);
  });

  it('rejects a bad ENDPOINT_ID:PATH before contacting control', async () => {
    const run = await ferry('ls', 'not-an-id:/x');
    expect(run.error).toBeInstanceOf(CommanderError);
    expect((run.error as CommanderError).code).toBe('commander.invalidArgument');
    expect(run.err).toContain("'not-an-id' is not an endpoint ID");
    const noPath = await ferry('stat', `${EP}:`);
    expect(noPath.err).toContain('names no path');
    expect(control.requests).toHaveLength(0);
  });

  it('mkdir and rename print control\'s message, and remote errors propagate', async () => {
    control.handle = (req, res) => {
      if (req.url.pathname.endsWith('/mkdir')) sendJson(res, 502, { code: 'ExternalError.MkdirFailed.Exists', message: 'Path already exists', request_id: 'r1', resource: '/x' });
      else sendJson(res, 200, { DATA_TYPE: 'result', code: 'FileRenamed', message: 'File or directory renamed successfully' });
    };
    const mk = await ferry('mkdir', `${EP}:/~/x`);
    expect(mk.error).toBeInstanceOf(RemoteError);
    expect((mk.error as RemoteError).remoteCode).toBe('ExternalError.MkdirFailed.Exists');
    const rn = await ferry('rename', `${EP}:/~/a`, '/~/b');
    expect(rn.out).toBe('File or directory renamed successfully\n');
    expect(JSON.parse(control.requests[1]?.body ?? '')).toEqual({ DATA_TYPE: 'rename', old_path: '/~/a', new_path: '/~/b' });
  });

  it('rename refuses a NEWPATH on another endpoint as a usage error', async () => {
    const run = await ferry('rename', `${EP}:/~/a`, '11111111-2222-4333-8444-555555555555:/b');
    expect((run.error as CommanderError).exitCode).toBe(2);
    expect(run.err).toContain('within one endpoint');
    expect(control.requests).toHaveLength(0);
  });

  it('stat prints the file fields', async () => {
    control.handle = (_req, res) => sendJson(res, 200, aFile);
    const run = await ferry('stat', `${EP}:/~/a.txt`);
    expect(run.out).toContain('Permissions:    0640 (-rw-r-----)');
  });

  it('help explains ENDPOINT_ID:PATH and /~/ and shows an example', async () => {
    for (const cmd of ['ls', 'mkdir', 'rename', 'stat']) {
      const run = await ferry(cmd, '--help');
      expect((run.error as CommanderError).code).toBe('commander.helpDisplayed');
      expect(run.out).toContain('ENDPOINT_ID:');
      expect(run.out).toContain("/~/ is the endpoint's default directory");
      expect(run.out).toMatch(new RegExp(`\\$ ferry ${cmd} `));
    }
  });
});

describe('endpoint commands', () => {
  it('create registers a personal endpoint by default and prints the next command', async () => {
    control.handle = (_req, res) => sendJson(res, 201, { DATA_TYPE: 'endpoint_create_result', code: 'Created', id: EP, globus_connect_setup_key: 'ferry1_KEY', message: 'Endpoint created' });
    const run = await ferry('endpoint', 'create', '--display-name', 'lab nas', '--description', 'the NAS');
    expect(JSON.parse(control.requests[0]?.body ?? '')).toEqual({ DATA_TYPE: 'endpoint', display_name: 'lab nas', description: 'the NAS', is_globus_connect: true });
    expect(run.out).toContain(EP);
    expect(run.out).toContain('ferry agent setup --setup-key ferry1_KEY --data-dir DIR --root PATH:rw');
    await ferry('endpoint', 'create', '--display-name', 'srv', '--no-personal');
    expect(JSON.parse(control.requests[1]?.body ?? '').is_globus_connect).toBe(false);
    const json = await ferry('endpoint', 'create', '--display-name', 'j', '--format', 'json');
    expect(JSON.parse(json.out).globus_connect_setup_key).toBe('ferry1_KEY');
  });

  it('create requires a display name', async () => {
    const run = await ferry('endpoint', 'create');
    expect((run.error as CommanderError).code).toBe('commander.missingMandatoryOptionValue');
  });

  it('search picks the scope from whether TEXT is given', async () => {
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'endpoint_list', DATA: [{ DATA_TYPE: 'endpoint', id: EP, display_name: 'lab', owner_string: 'me', gcp_connected: true }], has_next_page: false });
    const mine = await ferry('endpoint', 'search');
    expect(mine.out).toContain(`${EP}  me     yes        lab`);
    await ferry('endpoint', 'search', 'nas');
    await ferry('endpoint', 'search', 'nas', '--scope', 'my-endpoints');
    expect(control.requests.map((r) => Object.fromEntries(r.url.searchParams))).toEqual([
      { filter_scope: 'my-endpoints' }, { filter_scope: 'all', filter_fulltext: 'nas' }, { filter_scope: 'my-endpoints', filter_fulltext: 'nas' },
    ]);
    const bad = await ferry('endpoint', 'search', '--scope', 'everything');
    expect((bad.error as CommanderError).code).toBe('commander.invalidArgument');
  });

  it('show and delete take an endpoint UUID', async () => {
    control.handle = (req, res) => req.method === 'DELETE'
      ? sendJson(res, 200, { DATA_TYPE: 'result', code: 'Deleted', message: 'Endpoint deleted successfully' })
      : sendJson(res, 200, { DATA_TYPE: 'endpoint', id: EP, display_name: 'lab' });
    expect((await ferry('endpoint', 'show', EP.toUpperCase())).out).toContain('Display name:  lab');
    expect(control.requests[0]?.url.pathname).toBe(`/v0.10/endpoint/${EP}`);
    expect((await ferry('endpoint', 'delete', EP)).out).toBe('Endpoint deleted successfully\n');
    const bad = await ferry('endpoint', 'show', 'lab');
    expect(bad.err).toContain("'lab' is not an endpoint ID");
    expect(control.requests).toHaveLength(2);
  });
});
