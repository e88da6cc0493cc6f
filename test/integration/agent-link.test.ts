import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { createCa, createCsr, generateKeyPair, signAgentCsr } from '../../src/pki/index.js';
import { LINK_MAGIC, LINK_ROUTE } from '../../src/protocol/index.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { runFerry } from '../helpers/process.js';

interface Creds { ca: string; cert: string; key: string; nodeId: string; endpointId: string }

function credsOf(agentDir: string): Creds {
  const cfg = JSON.parse(readFileSync(join(agentDir, 'agent.json'), 'utf8')) as { nodeId: string; endpointId: string };
  return {
    ca: readFileSync(join(agentDir, 'ca.crt'), 'utf8'), cert: readFileSync(join(agentDir, 'agent.crt'), 'utf8'),
    key: readFileSync(join(agentDir, 'agent.key'), 'utf8'), nodeId: cfg.nodeId, endpointId: cfg.endpointId,
  };
}

/** Open a raw link socket; resolves with the socket or the HTTP status that refused it. */
function openLink(url: string, tls: { ca: string; cert?: string; key?: string }): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(new URL(LINK_ROUTE, url.replace('https:', 'wss:')), tls);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0 }); ws.terminate(); });
    ws.once('error', (err) => reject(err));
  });
}

function nextMessage(ws: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
}

describe('agent registration and the control link', () => {
  const dir = tempDir();
  const root = join(dir.path, 'root');
  let control: ControlHandle;
  let client: ApiClient;
  let token: string;
  let agent: AgentHandle;

  beforeAll(async () => {
    mkdirSync(root);
    control = await startControl(join(dir.path, 'control'));
    ({ client, token } = await control.user('dave@example.org'));
    agent = await startAgent(client, join(dir.path, 'agent'), [`${root}:rw`]);
  });
  afterAll(async () => {
    await agent?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it('refuses a setup key that was already used, and unknown or garbled keys', async () => {
    const created = await client.endpointCreate({ display_name: 'once' });
    // The key may come from the environment, keeping it out of `ps`.
    const first = await runFerry(['agent', 'setup', '--data-dir', join(dir.path, 'once-a'), '--root', root], { FERRY_SETUP_KEY: created.globus_connect_setup_key! });
    expect(first.code, first.stderr).toBe(0);
    const none = await runFerry(['agent', 'setup', '--data-dir', join(dir.path, 'once-z')], { FERRY_SETUP_KEY: '' });
    expect(none.code).toBe(78);
    expect(none.stderr).toContain('FERRY_SETUP_KEY');
    const again = await runFerry(['agent', 'setup', '--setup-key', created.globus_connect_setup_key!, '--data-dir', join(dir.path, 'once-b'), '--root', root]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('[SetupKey.Used]');
    const garbled = await runFerry(['agent', 'setup', '--setup-key', 'ferry1_!!!!', '--data-dir', join(dir.path, 'once-c')]);
    expect(garbled.stderr).toContain('[SetupKey.Invalid]');
    // A well-formed key whose secret control never issued.
    const payload = JSON.parse(Buffer.from(created.globus_connect_setup_key!.slice(7), 'base64url').toString()) as Record<string, string>;
    const forged = 'ferry1_' + Buffer.from(JSON.stringify({ ...payload, s: 'A'.repeat(32) })).toString('base64url');
    const unknown = await runFerry(['agent', 'setup', '--setup-key', forged, '--data-dir', join(dir.path, 'once-d')]);
    expect(unknown.stderr).toContain('[SetupKey.Invalid]');
    // A key whose CA hash does not match what the URL serves: refused before any CSR is sent.
    const wrongCa = 'ferry1_' + Buffer.from(JSON.stringify({ ...payload, h: 'f'.repeat(64) })).toString('base64url');
    const mismatch = await runFerry(['agent', 'setup', '--setup-key', wrongCa, '--data-dir', join(dir.path, 'once-e')]);
    expect(mismatch.stderr).toContain('[SetupKey.CaMismatch]');
  });

  it('refuses link connections without a certificate or with one from another CA', async () => {
    const none = await openLink(control.url, { ca: control.caPem });
    expect(none.status).toBe(401);
    const otherCa = createCa({ commonName: 'evil' });
    const keys = generateKeyPair();
    const evil = signAgentCsr(otherCa, createCsr(keys, 'evil'), { nodeId: credsOf(join(dir.path, 'agent')).nodeId, endpointId: agent.endpointId });
    const foreign = await openLink(control.url, { ca: control.caPem, cert: evil.certPem, key: keys.privateKeyPem });
    expect(foreign.status).toBe(401);
    await control.proc.waitForLog(/agent link refused/);
  });

  it('answers garbage over the WebSocket with errors and keeps serving', async () => {
    const creds = credsOf(join(dir.path, 'once-a'));
    const { ws } = await openLink(control.url, creds);
    const replies: Record<string, unknown>[] = [];
    ws!.on('message', (d) => replies.push(JSON.parse(d.toString()) as Record<string, unknown>));
    const got = (n: number) => new Promise<void>((resolve) => { const t = setInterval(() => { if (replies.length >= n) { clearInterval(t); resolve(); } }, 10); });
    ws!.send('this is not json');
    ws!.send(JSON.stringify({ type: 'hello', id: 'x' }));
    ws!.send(JSON.stringify({ type: 'launch-missiles' }));
    ws!.send(Buffer.from([0, 1, 2, 3]), { binary: true });
    // A well-formed update of a hello that was never sent.
    ws!.send(JSON.stringify({ type: 'hello.update', capabilities: ['force-encryption'], roots: [] }));
    await got(5);
    expect(replies[4]).toMatchObject({ error: { message: 'hello.update before hello' } });
    expect(replies.every((r) => r['type'] === 'error' && (r['error'] as { code: string }).code === 'Link.BadMessage')).toBe(true);
    // Hello naming another node than the certificate is refused and the link closed.
    const closed = new Promise<number>((resolve) => ws!.once('close', (code) => resolve(code)));
    ws!.send(JSON.stringify({ type: 'hello', id: 'h1', magic: LINK_MAGIC, version: 1, nodeId: '00000000-0000-4000-8000-000000000000', endpointId: creds.endpointId, agentVersion: 't', capabilities: [], dataAddresses: [], roots: [] }));
    expect(await closed).toBe(4004);
    // Control is still fine and the real agent still works.
    expect((await client.ls(agent.endpointId, { path: '/~/' })).DATA_TYPE).toBe('file_list');
  });

  it('refuses an agent speaking another link version', async () => {
    const creds = credsOf(join(dir.path, 'once-a'));
    const { ws } = await openLink(control.url, creds);
    const reply = nextMessage(ws!);
    ws!.send(JSON.stringify({ type: 'hello', id: 'h2', magic: LINK_MAGIC, version: 99, nodeId: creds.nodeId, endpointId: creds.endpointId, agentVersion: 't', capabilities: [], dataAddresses: [], roots: [] }));
    expect(await reply).toMatchObject({ type: 'reply', re: 'h2', ok: false, error: { code: 'Link.VersionMismatch' } });
    ws!.terminate();
  });

  it('reconnects after the agent is killed and restarted', async () => {
    await agent.proc.stop('SIGKILL');
    // The endpoint reads as disconnected once control sees the socket close.
    const disconnected = await client.ls(agent.endpointId, { path: '/~/' }).catch((e: unknown) => e);
    expect(disconnected).toMatchObject({ remoteCode: expect.stringMatching(/GCDisconnected|Timeout/) });
    await agent.start();
    expect((await client.ls(agent.endpointId, { path: '/~/' })).DATA_TYPE).toBe('file_list');
    expect((await client.endpointGet(agent.endpointId)).gcp_connected).toBe(true);
  });

  it('reconnects by itself after control restarts', async () => {
    const port = new URL(control.url).port;
    const linksBefore = agent.proc.stderr().split('connected to control').length;
    await control.stop();
    await agent.proc.waitForLog(/link down; reconnecting/);
    // The agent's config names control's URL, so control comes back on the same port.
    control = await startControl(control.dataDir, ['--listen', `127.0.0.1:${port}`]);
    await waitUntil(() => agent.proc.stderr().split('connected to control').length > linksBefore);
    client = new ApiClient({ url: control.url, token, ca: control.caPem });
    expect((await client.ls(agent.endpointId, { path: '/~/' })).DATA_TYPE).toBe('file_list');
  });

  it('revokes the agent when its endpoint is deleted', async () => {
    await client.endpointDelete(agent.endpointId);
    await agent.proc.waitForLog(/control refused this agent certificate/);
    // Control logs through pino's buffered destination, so its line may reach the pipe after the agent's.
    await control.proc.waitForLog(/unknown or revoked node/);
    client.close();
  });
});

/** Poll a condition that a child process's output will make true (bounded by the test timeout). */
async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}
