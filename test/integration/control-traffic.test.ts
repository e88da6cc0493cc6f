import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { submitTransfer, waitForTask } from '../helpers/tasks.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

describe('control never carries file data', () => {
  const dir = tempDir();
  const agents: AgentHandle[] = [];
  let control: ControlHandle | undefined;
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await control?.stop();
    await proxy?.close();
    dir.cleanup();
  });

  it('moves 64 MiB between agents while control sees a tiny fraction of that', async () => {
    const controlPort = await freePort();
    proxy = new TcpProxy(controlPort);
    const proxyPort = await proxy.open();
    // Agents learn control's URL from the setup key, i.e. from --public-url: the proxy.
    control = await startControl(join(dir.path, 'control'), ['--listen', `127.0.0.1:${controlPort}`, '--public-url', `https://127.0.0.1:${proxyPort}`]);
    const user = await control.user('ivan@example.org');
    const client = new ApiClient({ url: `https://127.0.0.1:${controlPort}`, token: user.token, ca: control.caPem });
    const a = join(dir.path, 'a'); const b = join(dir.path, 'b');
    mkdirSync(a); mkdirSync(b);
    const size = 64 * 1024 * 1024;
    writeFileSync(join(a, 'data.bin'), randomBytes(size));
    agents.push(await startAgent(client, join(dir.path, 'agent-a'), [`${a}:rw`], 'A'));
    agents.push(await startAgent(client, join(dir.path, 'agent-b'), [`${b}:rw`], 'B'));
    const before = proxy.bytes;
    const taskId = await submitTransfer(client, {
      source_endpoint: agents[0]!.endpointId, destination_endpoint: agents[1]!.endpointId,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/data.bin', destination_path: '/~/data.bin' }],
    });
    const task = await waitForTask(client, taskId);
    expect(task.status).toBe('SUCCEEDED');
    expect(readFileSync(join(b, 'data.bin')).equals(readFileSync(join(a, 'data.bin')))).toBe(true);
    const controlBytes = proxy.bytes - before;
    expect(controlBytes).toBeGreaterThan(0);
    expect(controlBytes).toBeLessThan(size / 100);
    client.close();
  });
});
