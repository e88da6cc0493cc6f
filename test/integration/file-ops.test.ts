import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';

describe('file operations through control to the agent', () => {
  const dir = tempDir();
  const home = join(dir.path, 'home');
  const archive = join(dir.path, 'archive');
  const outside = join(dir.path, 'outside');
  let control: ControlHandle;
  let agent: AgentHandle;
  let client: ApiClient;
  let ep: string;

  beforeAll(async () => {
    for (const d of [home, archive, outside]) mkdirSync(d, { recursive: true });
    mkdirSync(join(home, 'data', 'run 1'), { recursive: true });
    writeFileSync(join(home, 'data', 'a.txt'), 'hello');
    writeFileSync(join(home, 'data', 'b.csv'), 'x'.repeat(1000));
    writeFileSync(join(home, 'data', '.hidden'), 'h');
    writeFileSync(join(home, 'data', 'ünïcode ✓.txt'), 'u');
    writeFileSync(join(home, 'data', '-dash'), 'd');
    writeFileSync(join(archive, 'old.tar'), 'tar');
    writeFileSync(join(outside, 'secret'), 'secret');
    symlinkSync(outside, join(home, 'escape'));
    symlinkSync(join(home, 'data', 'a.txt'), join(home, 'data', 'link-to-a'));
    symlinkSync(join(home, 'nowhere'), join(home, 'data', 'dangling'));
    control = await startControl(join(dir.path, 'control'));
    ({ client } = await control.user('carol@example.org'));
    agent = await startAgent(client, join(dir.path, 'agent'), [`${home}:rw`, archive]);
    ep = agent.endpointId;
  });
  afterAll(async () => {
    await agent?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it('shows the agent as connected in the endpoint document', async () => {
    expect((await client.endpointGet(ep)).gcp_connected).toBe(true);
  });

  it('lists /~/ as the first root, in the Globus file_list shape', async () => {
    const list = await client.ls(ep, { path: '/~/data' });
    expect(list).toMatchObject({ DATA_TYPE: 'file_list', endpoint: ep, path: '/~/data/' });
    const names = list.DATA.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['a.txt', 'b.csv', '.hidden', 'run 1', 'ünïcode ✓.txt', '-dash', 'link-to-a', 'dangling']));
    const a = list.DATA.find((f) => f.name === 'a.txt')!;
    expect(a).toMatchObject({ DATA_TYPE: 'file', type: 'file', size: 5, link_target: null });
    expect(a.last_modified).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00$/);
    expect(a.permissions).toMatch(/^0[0-7]{3}$/);
    expect(list.DATA.find((f) => f.name === 'run 1')!.type).toBe('dir');
    expect(list.DATA.find((f) => f.name === 'link-to-a')).toMatchObject({ type: 'file', link_target: join(home, 'data', 'a.txt') });
    expect(list.DATA.find((f) => f.name === 'dangling')!.type).toBe('invalid_symlink');
  });

  it('supports show_hidden, filter, orderby, limit and offset', async () => {
    const noHidden = await client.ls(ep, { path: '/~/data/', show_hidden: false });
    expect(noHidden.DATA.map((f) => f.name)).not.toContain('.hidden');
    const txt = await client.ls(ep, { path: '/~/data/', filter: 'name:~*.txt/type:file' });
    expect(txt.DATA.map((f) => f.name).sort()).toEqual(['a.txt', 'ünïcode ✓.txt']);
    const big = await client.ls(ep, { path: '/~/data/', filter: 'type:file/size:>100' });
    expect(big.DATA.map((f) => f.name)).toEqual(['b.csv']);
    const bySize = await client.ls(ep, { path: '/~/data/', orderby: 'size DESC', filter: 'type:file', limit: 1 });
    expect(bySize.DATA.map((f) => f.name)).toEqual(['b.csv']);
    const page = await client.ls(ep, { path: '/~/data/', orderby: 'name ASC', limit: 2, offset: 1 });
    expect(page.DATA).toHaveLength(2);
    expect(page.total).toBe(8);
    await expect(client.ls(ep, { path: '/~/data/', orderby: 'name SIDEWAYS' })).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest' });
  });

  it('lists other roots by their absolute host path', async () => {
    const list = await client.ls(ep, { path: archive });
    expect(list.DATA.map((f) => f.name)).toEqual(['old.tar']);
  });

  it('makes, renames and stats directories', async () => {
    expect((await client.mkdir(ep, '/~/new dir')).code).toBe('DirectoryCreated');
    expect(existsSync(join(home, 'new dir'))).toBe(true);
    await expect(client.mkdir(ep, '/~/new dir')).rejects.toMatchObject({ remoteCode: 'ExternalError.MkdirFailed.Exists' });
    await expect(client.mkdir(ep, '/~/no/such/parent')).rejects.toMatchObject({ remoteCode: 'ClientError.NotFound' });
    expect((await client.rename(ep, '/~/new dir', '/~/renamed')).code).toBe('FileRenamed');
    expect(existsSync(join(home, 'renamed'))).toBe(true);
    await expect(client.rename(ep, '/~/renamed', '/~/data')).rejects.toMatchObject({ remoteCode: 'ExternalError.RenameFailed.Exists' });
    const st = await client.stat(ep, '/~/renamed');
    expect(st).toMatchObject({ DATA_TYPE: 'file', name: 'renamed', type: 'dir' });
    await expect(client.stat(ep, '/~/missing')).rejects.toMatchObject({ remoteCode: 'NotFound', httpStatus: 404 });
    await expect(client.ls(ep, { path: '/~/data/a.txt' })).rejects.toMatchObject({ remoteCode: 'ExternalError.DirListingFailed.NotDirectory' });
  });

  it('refuses every path escape before touching a file', async () => {
    const before = readdirSync(outside);
    const denied = ['/~/../outside', `${outside}`, '/etc', '/~/escape', '/~/escape/secret', `${home}/../outside/secret`];
    for (const path of denied) {
      const err = await client.stat(ep, path).catch((e: unknown) => e);
      expect(err, path).toMatchObject({ remoteCode: expect.stringMatching(/^(EndpointPermissionDenied|ClientError\.BadRequest\.InvalidPath)$/) });
    }
    await expect(client.mkdir(ep, '/~/escape/new')).rejects.toMatchObject({ remoteCode: 'EndpointPermissionDenied' });
    await expect(client.rename(ep, '/~/data/a.txt', '/~/escape/a.txt')).rejects.toMatchObject({ remoteCode: 'EndpointPermissionDenied' });
    await expect(client.stat(ep, '/~/a\u0000b')).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest.InvalidPath' });
    await expect(client.stat(ep, `/~/${'x'.repeat(300)}`)).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest.InvalidPath' });
    await expect(client.stat(ep, `/~/${'abc/'.repeat(1100)}`)).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest.InvalidPath' });
    await expect(client.stat(ep, 'relative/path')).rejects.toMatchObject({ remoteCode: 'ClientError.BadRequest.InvalidPath' });
    expect(readdirSync(outside)).toEqual(before);
  });

  it('refuses writes to a read-only root', async () => {
    await expect(client.mkdir(ep, `${archive}/new`)).rejects.toMatchObject({ remoteCode: 'EndpointPermissionDenied', httpStatus: 403 });
    await expect(client.rename(ep, `${archive}/old.tar`, `${archive}/new.tar`)).rejects.toMatchObject({ remoteCode: 'EndpointPermissionDenied' });
    await expect(client.rename(ep, `${archive}/old.tar`, '/~/stolen.tar')).rejects.toMatchObject({ remoteCode: 'EndpointPermissionDenied' });
    expect(existsSync(join(archive, 'old.tar'))).toBe(true);
  });

  it('reloads its roots on SIGHUP without dropping the link, and keeps the old config when the new one is bad', async () => {
    const cfgFile = join(dir.path, 'agent', 'agent.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as { roots: Array<{ path: string; writable: boolean; sharing: boolean }> };
    await expect(client.stat(ep, `${outside}/secret`)).rejects.toMatchObject({ remoteCode: 'EndpointPermissionDenied' });
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, roots: [...cfg.roots, { path: outside, writable: false, sharing: false }] }));
    const linksBefore = agent.proc.stderr().split('connected to control').length;
    agent.proc.proc.kill('SIGHUP');
    await agent.proc.waitForLog(/config reloaded/);
    expect((await client.stat(ep, `${outside}/secret`)).size).toBe(6);
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, roots: [], surprise: 1 }));
    agent.proc.proc.kill('SIGHUP');
    await agent.proc.waitForLog(/config reload refused/);
    expect((await client.stat(ep, `${outside}/secret`)).size).toBe(6);
    expect(agent.proc.stderr().split('connected to control').length).toBe(linksBefore);
    writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  });

  it('refuses other users', async () => {
    const { client: mallory } = await control.user('mallory@example.org');
    await expect(mallory.ls(ep, { path: '/~/' })).rejects.toMatchObject({ remoteCode: 'EndpointNotFound' });
  });
});
