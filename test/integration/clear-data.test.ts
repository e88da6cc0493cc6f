import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client.js';
import { ClearProxy } from '../helpers/clear-proxy.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { freePort } from '../helpers/net.js';
import { events, partialFiles, submitTransfer, waitForTask } from '../helpers/tasks.js';

/**
 * encrypt_data false (globus-api.md §2.2): real agents, real sockets on 127.0.0.1, real TLS.
 * The destination's data port sits behind a proxy that reads the bytes crossing it, so the
 * tests see what an eavesdropper sees, and can alter a chunk the way a man in the middle would.
 * The destination agent runs with FERRY_NO_NATIVE=1 and the source with the native addon: every
 * clear transfer here also shows the twins (chunk CRCs, file checksums) and the native code agree.
 */
const MiB = 1024 * 1024;
const MARKER = Buffer.from('<<FERRY-CLEAR-TEXT-MARKER-0123456789>>');

function fileWithMarkers(bytes: number, every: number): Buffer {
  const data = randomBytes(bytes);
  for (let at = 1000; at + MARKER.length < bytes; at += every) MARKER.copy(data, at);
  return data;
}

describe('encrypt_data false: clear-text data streams with a MAC per chunk', () => {
  const dir = tempDir();
  const srcRoot = join(dir.path, 'src');
  const dstRoot = join(dir.path, 'dst');
  let control: ControlHandle;
  let client: ApiClient;
  let src: AgentHandle;
  let dst: AgentHandle;
  let proxy: ClearProxy;
  const content = fileWithMarkers(20 * MiB + 4321, 1 * MiB);

  beforeAll(async () => {
    mkdirSync(srcRoot);
    mkdirSync(dstRoot);
    writeFileSync(join(srcRoot, 'big.bin'), content);
    mkdirSync(join(srcRoot, 'tree', 'sub'), { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(srcRoot, 'tree', i % 2 ? 'sub' : '', `s-${i}.bin`), fileWithMarkers(5000 + i * 997, 4000));
    control = await startControl(join(dir.path, 'control'));
    ({ client } = await control.user('clear@example.org'));
    const dataPort = await freePort();
    proxy = new ClearProxy(dataPort, MARKER);
    await proxy.open();
    src = await startAgent(client, join(dir.path, 'agent-src'), [`${srcRoot}:rw`], 'clear source', { dataListen: { enabled: false } });
    dst = await startAgent(client, join(dir.path, 'agent-dst'), [`${dstRoot}:rw`], 'clear destination', {
      dataPortRange: [dataPort, dataPort],
      dataListen: { enabled: true, host: '127.0.0.1', advertisePort: proxy.port },
    }, { env: { FERRY_NO_NATIVE: '1' } });
  });
  afterAll(async () => {
    await src?.stop();
    await dst?.stop();
    await proxy?.close();
    await control?.stop();
    dir.cleanup();
  });
  beforeEach(() => proxy.reset());

  const copy = (dest: string, extra: Record<string, unknown> = {}) => submitTransfer(client, {
    source_endpoint: src.endpointId, destination_endpoint: dst.endpointId, parallelism: 3, verify_checksum: true, ...extra,
    DATA: [
      { DATA_TYPE: 'transfer_item', source_path: '/~/big.bin', destination_path: `/~/${dest}/big.bin` },
      { DATA_TYPE: 'transfer_item', source_path: '/~/tree/', destination_path: `/~/${dest}/tree/`, recursive: true },
    ],
  });
  const same = (dest: string): void => {
    expect(readFileSync(join(dstRoot, dest, 'big.bin')).equals(content)).toBe(true);
    for (let i = 0; i < 30; i++) {
      const rel = join('tree', i % 2 ? 'sub' : '', `s-${i}.bin`);
      expect(readFileSync(join(dstRoot, dest, rel)).equals(readFileSync(join(srcRoot, rel)))).toBe(true);
    }
    expect(partialFiles(dstRoot)).toEqual([]);
  };

  it('moves the data in clear text, byte-identical, and the task document says encrypt_data false', async () => {
    const taskId = await copy('clear', { encrypt_data: false });
    const task = await waitForTask(client, taskId);
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    expect(task).toMatchObject({ encrypt_data: false, files_transferred: 31 });
    same('clear');
    // The control stream is TLS, the three data streams are not: the file's bytes crossed in clear.
    expect(proxy.tls).toBe(1);
    expect(proxy.clear).toBe(3);
    expect(proxy.markerSeen.clear).toBeGreaterThanOrEqual(20);
    expect(proxy.markerSeen.tls).toBe(0);
  });

  it('encrypts by default: nothing readable crosses, encrypt_data true', async () => {
    const taskId = await copy('default');
    const task = await waitForTask(client, taskId);
    expect(task).toMatchObject({ status: 'SUCCEEDED', encrypt_data: true });
    same('default');
    expect(proxy.clear).toBe(0);
    expect(proxy.tls).toBe(4);
    expect(proxy.markerSeen).toEqual({ tls: 0, clear: 0 });
  });

  it('refuses an altered chunk by its MAC, asks for it again, never writes it, and says so in an event', async () => {
    proxy.tamper = 3;
    // Without verify_checksum: the MAC alone must keep the altered bytes off the disk.
    const taskId = await copy('tampered', { encrypt_data: false, verify_checksum: false });
    const task = await waitForTask(client, taskId);
    expect(task.status, JSON.stringify(task.fatal_error)).toBe('SUCCEEDED');
    expect(proxy.tampered).toBe(3);
    same('tampered');
    const macEvents = (await events(client, taskId)).filter((e) => e.details.includes('Transfer.ChunkMacMismatch'));
    expect(macEvents.length).toBeGreaterThanOrEqual(1);
    expect(macEvents[0]).toMatchObject({ code: 'VERIFY_CHECKSUM', is_error: true });
    expect(macEvents[0]!.details).toMatch(/(chunk|batch) MAC mismatch/);
    expect(task.faults).toBeGreaterThanOrEqual(1);
  });

  it('force_encryption on either endpoint wins over encrypt_data false', async () => {
    for (const forcing of [dst, src]) {
      proxy.reset();
      await client.put(`/v0.10/endpoint/${forcing.endpointId}`, { body: { force_encryption: true } });
      expect((await client.get<{ force_encryption: boolean }>(`/v0.10/endpoint/${forcing.endpointId}`)).force_encryption).toBe(true);
      const dest = `forced-${forcing === dst ? 'dst' : 'src'}`;
      const task = await waitForTask(client, await copy(dest, { encrypt_data: false }));
      expect(task).toMatchObject({ status: 'SUCCEEDED', encrypt_data: true });
      same(dest);
      expect(proxy.clear).toBe(0);
      expect(proxy.markerSeen).toEqual({ tls: 0, clear: 0 });
      await client.put(`/v0.10/endpoint/${forcing.endpointId}`, { body: { force_encryption: false } });
    }
    expect((await client.get<{ force_encryption: boolean }>(`/v0.10/endpoint/${src.endpointId}`)).force_encryption).toBe(false);
  });

  it('an agent whose reloaded config forces encryption (SIGHUP) is run encrypted from the next task on, on the same link', async () => {
    const cfgFile = join(src.dataDir, 'agent.json');
    const before = readFileSync(cfgFile, 'utf8');
    const cfg = JSON.parse(before) as { transfer?: Record<string, unknown> };
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, transfer: { ...cfg.transfer, forceEncryption: true } }, null, 2));
    try {
      src.proc.proc.kill('SIGHUP');
      expect(await control.proc.waitForLog(/agent updated its hello/)).toContain('force-encryption');
      proxy.reset();
      const task = await waitForTask(client, await copy('reloaded-forced', { encrypt_data: false }));
      expect(task).toMatchObject({ status: 'SUCCEEDED', encrypt_data: true });
      same('reloaded-forced');
      expect(proxy.clear).toBe(0);
      expect(proxy.markerSeen).toEqual({ tls: 0, clear: 0 });
    } finally {
      writeFileSync(cfgFile, before);
    }
  });
});
