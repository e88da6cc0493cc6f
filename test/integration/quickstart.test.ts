import { mkdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cluster.js';
import { runFerry, startFerry, type FerryProcess } from '../helpers/process.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('ferry quickstart', () => {
  const dir = tempDir();
  const home = join(dir.path, 'ferry-home');
  const root = join(dir.path, 'my files');
  const env = { FERRY_HOME: home };
  let running: FerryProcess | undefined;
  afterAll(async () => {
    await running?.stop();
    dir.cleanup();
  });

  it('starts control and a personal endpoint, serves the CLI, stops on Ctrl-C, and reuses its state', async () => {
    mkdirSync(root);
    writeFileSync(join(root, 'notes.txt'), 'quickstart');
    const port = String(await freePort());
    running = startFerry(['quickstart', '--port', port, '--root', root], env);
    const ready = await running.waitForStdout(/Your endpoint:\s+([0-9a-f-]{36})/);
    const endpointId = ready[1]!;
    await running.waitForStdout(/Press Ctrl-C to stop/);
    expect(statSync(join(home, 'client.json')).mode & 0o777).toBe(0o600);
    // The log and the state databases name users, paths and tasks: owner-only.
    expect(statSync(join(home, 'logs')).mode & 0o777).toBe(0o700);
    for (const f of ['logs/ferry.log', 'control/control.db', 'agent/state.db']) expect(statSync(join(home, f)).mode & 0o777, f).toBe(0o600);

    const ls = await runFerry(['ls', `${endpointId}:/~/`], env);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('notes.txt');
    const mk = await runFerry(['mkdir', `${endpointId}:/~/made by cli`], env);
    expect(mk.code, mk.stderr).toBe(0);
    expect(existsSync(join(root, 'made by cli'))).toBe(true);
    const st = await runFerry(['stat', `${endpointId}:/~/notes.txt`, '--format', 'json'], env);
    expect(JSON.parse(st.stdout)).toMatchObject({ DATA_TYPE: 'file', name: 'notes.txt', size: 10 });
    const missing = await runFerry(['stat', `${endpointId}:/~/nope`], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/NotFound/);

    const first = await running.stop('SIGINT');
    expect(first.code).toBe(0);
    expect(running.stdout()).toContain('Ferry stopped.');

    running = startFerry(['quickstart', '--port', port], env);
    const again = await running.waitForStdout(/Your endpoint:\s+([0-9a-f-]{36})/);
    expect(again[1]).toBe(endpointId);
    const ls2 = await runFerry(['ls', `${endpointId}:/~/`], env);
    expect(ls2.stdout).toContain('made by cli');
    expect((await running.stop('SIGTERM')).code).toBe(0);
    running = undefined;
  });
});
