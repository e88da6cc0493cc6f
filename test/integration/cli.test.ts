import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, tempDir, type ControlHandle } from '../helpers/cluster.js';
import { runFerry, startFerry } from '../helpers/process.js';

describe('ferry CLI against a real control and agent', () => {
  const dir = tempDir();
  const root = join(dir.path, 'data');
  let control: ControlHandle;
  let env: Record<string, string>;

  beforeAll(async () => {
    mkdirSync(root);
    writeFileSync(join(root, 'hello.txt'), 'hi');
    control = await startControl(join(dir.path, 'control'));
    const { token } = await control.user('erin@example.org');
    // Client settings from the environment only: an empty FERRY_HOME proves no file is needed.
    env = { FERRY_URL: control.url, FERRY_TOKEN: token, FERRY_CA: control.caFile, FERRY_HOME: join(dir.path, 'empty-home') };
  });
  afterAll(async () => {
    const exit = await control?.proc.stop('SIGTERM');
    dir.cleanup();
    // SIGTERM is a clean shutdown.
    expect(exit?.code).toBe(0);
  });

  it('creates an endpoint, sets up and runs its agent, and lists it, all from the command line', async () => {
    const created = await runFerry(['endpoint', 'create', '--display-name', 'CLI endpoint', '--format', 'json'], env);
    expect(created.code, created.stderr).toBe(0);
    const doc = JSON.parse(created.stdout) as { id: string; globus_connect_setup_key: string };
    const setup = await runFerry(['agent', 'setup', '--setup-key', doc.globus_connect_setup_key, '--data-dir', join(dir.path, 'agent'), '--root', `${root}:rw`], env);
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stdout).toContain(doc.id);
    const agent = startFerry(['agent', 'run', '--data-dir', join(dir.path, 'agent')]);
    try {
      await agent.waitForLog(/connected to control/);
      const shown = await runFerry(['endpoint', 'show', doc.id], env);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain('CLI endpoint');
      const found = await runFerry(['endpoint', 'search', 'CLI'], env);
      expect(found.stdout).toContain(doc.id);
      const ls = await runFerry(['ls', '-l', `${doc.id}:/~/`], env);
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stdout).toMatch(/hello\.txt/);
      const renamed = await runFerry(['rename', `${doc.id}:/~/hello.txt`, '/~/bye.txt'], env);
      expect(renamed.code, renamed.stderr).toBe(0);
      const escape = await runFerry(['stat', `${doc.id}:/~/../../etc/passwd`], env);
      expect(escape.code).not.toBe(0);
      expect(escape.stderr).toMatch(/\[(EndpointPermissionDenied|ClientError\.BadRequest\.InvalidPath)\]/);
      const deleted = await runFerry(['endpoint', 'delete', doc.id], env);
      expect(deleted.code, deleted.stderr).toBe(0);
      await agent.waitForLog(/control refused this agent certificate/);
    } finally {
      expect((await agent.stop('SIGTERM')).code).toBe(0);
    }
    // Secrets never reach the logs.
    expect(control.proc.stderr()).not.toContain(doc.globus_connect_setup_key.slice(7));
    expect(agent.stderr()).not.toContain(env['FERRY_TOKEN']!);
  });

  it('explains itself to a newcomer', async () => {
    const help = await runFerry(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['quickstart', 'ls', 'mkdir', 'rename', 'stat', 'endpoint', 'agent', 'control']) expect(help.stdout).toContain(cmd);
    for (const sub of [['ls'], ['agent', 'setup'], ['control', 'run'], ['endpoint', 'create'], ['quickstart']]) {
      const h = await runFerry([...sub, '--help']);
      expect(h.code, sub.join(' ')).toBe(0);
      expect(h.stdout, sub.join(' ')).toMatch(/Usage: ferry /);
    }
  });

  it('fails with clear codes when control cannot be found or the config is bad', async () => {
    const none = await runFerry(['ls', '00000000-0000-4000-8000-000000000000:/~/'], { FERRY_HOME: join(dir.path, 'nothing'), FERRY_URL: '', FERRY_TOKEN: '' });
    expect(none.code).toBe(78);
    expect(none.stderr).toMatch(/\[Config\.NotFound\].*quickstart/);
    const unreachable = await runFerry(['ls', '00000000-0000-4000-8000-000000000000:/~/'], { ...env, FERRY_URL: 'https://127.0.0.1:1' });
    expect(unreachable.code).toBe(69);
    expect(unreachable.stderr).toContain('[ServiceUnavailable]');
    const badToken = await runFerry(['endpoint', 'search'], { ...env, FERRY_TOKEN: 'wrong-token-wrong-token' });
    expect(badToken.stderr).toContain('[ClientError.AuthenticationFailed]');
    const badConfig = join(dir.path, 'bad.json');
    writeFileSync(badConfig, JSON.stringify({ version: 1, dataDir: dir.path, listen: { port: 'eighty' } }));
    const bad = await runFerry(['control', 'run', '--config', badConfig]);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/\[Config\.Invalid\].*bad\.json.*\/listen\/port/);
    const badRoot = await runFerry(['agent', 'setup', '--setup-key', 'x', '--root', 'relative/path']);
    expect(badRoot.code).toBe(78);
  });
});
